import { useState } from 'preact/hooks';
import { api, type Host, type Page, type User } from '../api';
import { t } from '../i18n';
import { can } from '../session';
import { Empty, ErrorBox, Link, Loaded, PageTitle, Time, errorText, useAsync } from '../ui';

const sections: [string, string, () => boolean][] = [
  ['users', 'admin.users', () => can('users.read')],
  ['tokens', 'admin.tokens', () => can('api_tokens.own')],
  ['enrollment', 'admin.enrollment', () => can('enrollment_tokens.read')],
  ['agents', 'admin.agents', () => can('agents.revoke')],
  ['maintenance', 'admin.maintenance', () => can('maintenance.read')],
  ['rules', 'admin.rules', () => can('rules.read')],
  ['profiles', 'admin.profiles', () => can('agent_profiles.read')],
  ['audit', 'admin.audit', () => can('audit.read')],
];

// Runs a change and reports its error in place, then reloads what it changed.
function useAction(reload: () => void) {
  const [error, setError] = useState<string>();
  const run = async (action: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await action();
      reload();
      return true;
    } catch (e) {
      setError(errorText(e));
      return false;
    }
  };
  return { error, run };
}

function Secret({ label, value, extra }: { label: string; value: string; extra?: string }) {
  return (
    <div class="notice secret" role="status">
      <p>{label}</p>
      <code class="copy">{value}</code>
      {extra && <pre class="copy">{extra}</pre>}
    </div>
  );
}

function Users() {
  const state = useAsync(() => api.get<{ items: User[] }>('/api/v1/users'), []);
  const { error, run } = useAction(state.reload);
  const [name, setName] = useState('');
  const [role, setRole] = useState('operator');
  const [password, setPassword] = useState<string>();
  return (
    <>
      {can('users.write') && (
        <form
          class="panel form inline"
          onSubmit={async (e) => {
            e.preventDefault();
            await run(async () => {
              const made = await api.post<{ password?: string }>('/api/v1/users', { name, role });
              setPassword(made.password);
              setName('');
            });
          }}
        >
          <label>
            {t('admin.name')}
            <input required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            {t('admin.role')}
            <select value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
              {['admin', 'operator', 'requester', 'viewer'].map((r) => (
                <option value={r}>{t(`role.${r}` as any)}</option>
              ))}
            </select>
          </label>
          <button type="submit" class="primary">
            {t('admin.addUser')}
          </button>
        </form>
      )}
      {password && <Secret label={t('admin.passwordOnce')} value={password} />}
      {error && <ErrorBox message={error} />}
      <Loaded state={state}>
        {(page) => (
          <table class="list">
            <thead>
              <tr>
                <th>{t('admin.name')}</th>
                <th>{t('admin.role')}</th>
                <th>{t('admin.state')}</th>
                <th>{t('admin.created')}</th>
                {can('users.write') && <th />}
              </tr>
            </thead>
            <tbody>
              {page.items.map((u) => (
                <tr>
                  <td>{u.name}</td>
                  <td>
                    {can('users.write') ? (
                      <select
                        aria-label={t('admin.roleOf', { name: u.name })}
                        value={u.role}
                        onChange={(e) => run(() => api.patch(`/api/v1/users/${u.id}`, { role: (e.target as HTMLSelectElement).value }))}
                      >
                        {['admin', 'operator', 'requester', 'viewer'].map((r) => (
                          <option value={r}>{t(`role.${r}` as any)}</option>
                        ))}
                      </select>
                    ) : (
                      t(`role.${u.role}` as any, {}, u.role)
                    )}
                  </td>
                  <td>{u.disabled ? t('admin.disabled') : t('admin.enabled')}</td>
                  <td>
                    <Time at={u.createdAt} />
                  </td>
                  {can('users.write') && (
                    <td>
                      <button type="button" onClick={() => run(() => api.patch(`/api/v1/users/${u.id}`, { disabled: !u.disabled }))}>
                        {u.disabled ? t('admin.enable') : t('admin.disable')}
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </>
  );
}

interface TokenRow {
  id: string;
  user?: string;
  name?: string;
  scope?: string;
  state: string;
  createdAt?: string;
  expiresAt?: string;
  lastUsedAt?: string;
  maxHosts?: string;
  usedCount?: string;
}

function Tokens() {
  const state = useAsync(() => api.get<{ items: TokenRow[] }>('/api/v1/tokens', { all: can('api_tokens.any') }), []);
  const { error, run } = useAction(state.reload);
  const [name, setName] = useState('');
  const [scope, setScope] = useState('full');
  const [ttl, setTtl] = useState('30d');
  const [secret, setSecret] = useState<string>();
  return (
    <>
      <form
        class="panel form inline"
        onSubmit={async (e) => {
          e.preventDefault();
          await run(async () => setSecret((await api.post<{ secret: string }>('/api/v1/tokens', { name, scope, ttl })).secret));
        }}
      >
        <label>
          {t('admin.name')}
          <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          {t('admin.scope')}
          <select value={scope} onChange={(e) => setScope((e.target as HTMLSelectElement).value)}>
            <option value="full">full</option>
            <option value="read">read</option>
            <option value="worklog">worklog</option>
          </select>
        </label>
        <label>
          {t('admin.ttl')}
          <input value={ttl} onInput={(e) => setTtl((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="primary">
          {t('admin.newToken')}
        </button>
      </form>
      {secret && <Secret label={t('admin.secretOnce')} value={secret} />}
      {error && <ErrorBox message={error} />}
      <Loaded state={state}>
        {(page) => (
          <table class="list">
            <thead>
              <tr>
                <th>#</th>
                <th>{t('admin.user')}</th>
                <th>{t('admin.name')}</th>
                <th>{t('admin.scope')}</th>
                <th>{t('admin.state')}</th>
                <th>{t('admin.expires')}</th>
                <th>{t('admin.lastUsed')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {page.items.map((tk) => (
                <tr>
                  <td>{tk.id}</td>
                  <td>{tk.user}</td>
                  <td>{tk.name}</td>
                  <td>{tk.scope}</td>
                  <td>{tk.state}</td>
                  <td>
                    <Time at={tk.expiresAt} />
                  </td>
                  <td>
                    <Time at={tk.lastUsedAt} />
                  </td>
                  <td>
                    {tk.state === 'active' && (
                      <button type="button" onClick={() => run(() => api.del(`/api/v1/tokens/${tk.id}`))}>
                        {t('admin.revoke')}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </>
  );
}

// The CA's fingerprint as fleetdesk-agent enroll takes it: SHA-256 of the certificate's DER.
async function caFingerprint(): Promise<string> {
  const pem = await (await fetch('/api/v1/ca')).text();
  const base64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const der = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', der));
  return 'SHA256:' + [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function Enrollment() {
  const state = useAsync(() => api.get<{ items: TokenRow[] }>('/api/v1/enrollment-tokens'), []);
  const { error, run } = useAction(state.reload);
  const [name, setName] = useState('');
  const [ttl, setTtl] = useState('24h');
  const [maxHosts, setMaxHosts] = useState('10');
  const [made, setMade] = useState<{ secret: string; command: string }>();
  return (
    <>
      {can('enrollment_tokens.write') && (
        <form
          class="panel form inline"
          onSubmit={async (e) => {
            e.preventDefault();
            await run(async () => {
              const answer = await api.post<{ secret: string }>('/api/v1/enrollment-tokens', { name, ttl, maxHosts: Number(maxHosts) });
              const fingerprint = await caFingerprint();
              setMade({
                secret: answer.secret,
                command: `fleetdesk-agent enroll --server ${location.origin} --token ${answer.secret} --ca-fingerprint ${fingerprint}\nsystemctl enable --now fleetdesk-agent`,
              });
            });
          }}
        >
          <label>
            {t('admin.name')}
            <input value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            {t('admin.ttl')}
            <input value={ttl} onInput={(e) => setTtl((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            {t('admin.maxHosts')}
            <input type="number" min={0} value={maxHosts} onInput={(e) => setMaxHosts((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" class="primary">
            {t('admin.newEnrollment')}
          </button>
        </form>
      )}
      {made && <Secret label={t('admin.installCommand')} value={made.secret} extra={made.command} />}
      {error && <ErrorBox message={error} />}
      <Loaded state={state}>
        {(page) => (
          <table class="list">
            <thead>
              <tr>
                <th>#</th>
                <th>{t('admin.name')}</th>
                <th>{t('admin.state')}</th>
                <th>{t('admin.used')}</th>
                <th>{t('admin.expires')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {page.items.map((tk) => (
                <tr>
                  <td>{tk.id}</td>
                  <td>{tk.name}</td>
                  <td>{tk.state}</td>
                  <td>
                    {tk.usedCount ?? 0}/{tk.maxHosts === '0' ? '∞' : tk.maxHosts}
                  </td>
                  <td>
                    <Time at={tk.expiresAt} />
                  </td>
                  <td>
                    {tk.state === 'active' && can('enrollment_tokens.write') && (
                      <button type="button" onClick={() => run(() => api.del(`/api/v1/enrollment-tokens/${tk.id}`))}>
                        {t('admin.revoke')}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </>
  );
}

function Agents() {
  const state = useAsync(() => api.get<Page<Host>>('/api/v1/hosts', { limit: 200, sort: 'hostname' }), []);
  const { error, run } = useAction(state.reload);
  return (
    <>
      {error && <ErrorBox message={error} />}
      <Loaded state={state}>
        {(page) => (
          <table class="list">
            <thead>
              <tr>
                <th>{t('hosts.name')}</th>
                <th>{t('admin.agentId')}</th>
                <th>{t('hosts.status')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {page.items
                .filter((h) => h.agentId)
                .map((h) => (
                  <tr>
                    <td>
                      <Link href={`/hosts/${h.id}`}>{h.hostname}</Link>
                    </td>
                    <td>
                      <code>{h.agentId}</code>
                    </td>
                    <td>{h.status}</td>
                    <td>
                      <button
                        type="button"
                        onClick={() =>
                          confirm(t('admin.revokeAgentConfirm', { name: h.hostname })) &&
                          run(() => api.post(`/api/v1/agents/${h.agentId}/revoke`))
                        }
                      >
                        {t('admin.revoke')}
                      </button>
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </>
  );
}

interface Window {
  id: string;
  hostId?: string;
  tag?: string;
  reason?: string;
  startsAt?: string;
  endsAt?: string;
  createdBy?: string;
}

function Maintenance() {
  const state = useAsync(() => api.get<{ items: Window[] }>('/api/v1/maintenance'), []);
  const { error, run } = useAction(state.reload);
  const [target, setTarget] = useState('');
  const [duration, setDuration] = useState('2h');
  const [reason, setReason] = useState('');
  return (
    <>
      {can('maintenance.write') && (
        <form
          class="panel form inline"
          onSubmit={async (e) => {
            e.preventDefault();
            const body: Record<string, unknown> = { duration, reason };
            if (/^\d+$/.test(target.trim())) body.hostId = target.trim();
            else body.tag = target.trim();
            if (await run(() => api.post('/api/v1/maintenance', body))) setReason('');
          }}
        >
          <label>
            {t('admin.hostOrTag')}
            <input required value={target} onInput={(e) => setTarget((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            {t('admin.duration')}
            <input value={duration} onInput={(e) => setDuration((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            {t('admin.reason')}
            <input value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" class="primary">
            {t('admin.newWindow')}
          </button>
        </form>
      )}
      {error && <ErrorBox message={error} />}
      <Loaded state={state}>
        {(page) =>
          !page.items.length ? (
            <Empty>{t('admin.noWindows')}</Empty>
          ) : (
            <table class="list">
              <thead>
                <tr>
                  <th>{t('admin.hostOrTag')}</th>
                  <th>{t('admin.reason')}</th>
                  <th>{t('admin.starts')}</th>
                  <th>{t('admin.ends')}</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {page.items.map((w) => (
                  <tr>
                    <td>{w.tag ? `#${w.tag}` : <Link href={`/hosts/${w.hostId}`}>{w.hostId}</Link>}</td>
                    <td>{w.reason}</td>
                    <td>
                      <Time at={w.startsAt} />
                    </td>
                    <td>
                      <Time at={w.endsAt} />
                    </td>
                    <td>
                      {can('maintenance.write') && (
                        <button type="button" onClick={() => run(() => api.post(`/api/v1/maintenance/${w.id}/end`))}>
                          {t('admin.endNow')}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Loaded>
    </>
  );
}

function Profiles() {
  const state = useAsync(
    () =>
      api.get<{ items: { id: string; name: string; tags?: string[]; priority?: number; config?: unknown }[] }>('/api/v1/agent-profiles'),
    [],
  );
  return (
    <Loaded state={state}>
      {(page) =>
        !page.items.length ? (
          <Empty>{t('admin.noProfiles')}</Empty>
        ) : (
          <table class="list">
            <thead>
              <tr>
                <th>{t('admin.name')}</th>
                <th>{t('hosts.tags')}</th>
                <th>{t('priority')}</th>
                <th class="grow">{t('admin.settings')}</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((p) => (
                <tr>
                  <td>{p.name}</td>
                  <td>{(p.tags ?? []).join(', ') || t('admin.allHosts')}</td>
                  <td>{p.priority ?? 0}</td>
                  <td class="grow">
                    <code>{JSON.stringify(p.config)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      }
    </Loaded>
  );
}

interface RuleSet {
  rules?: {
    kind: string;
    name: string;
    tags?: string[];
    category?: string;
    severity?: string;
    autoResolve?: boolean;
    failAfter?: number;
    okAfter?: number;
  }[];
  thresholds?: { metric: string; above: number; tags?: string[] }[];
  assignment?: { category?: string; name?: string; tags?: string[]; group?: string; assignee?: string }[];
}

// The rules are server.toml's: shown here, changed there.
function Rules() {
  const state = useAsync(() => api.get<RuleSet>('/api/v1/rules'), []);
  return (
    <Loaded state={state}>
      {(r) => (
        <>
          <p class="muted">{t('admin.rulesFromConfig')}</p>
          <h2>{t('admin.incidentRules')}</h2>
          <div class="table-wrap">
            <table class="list compact">
              <thead>
                <tr>
                  <th>{t('tasks.kind')}</th>
                  <th>{t('admin.name')}</th>
                  <th>{t('hosts.tags')}</th>
                  <th>{t('ticket.category')}</th>
                  <th>{t('admin.severity')}</th>
                  <th>{t('admin.autoResolve')}</th>
                  <th>{t('admin.confirmations')}</th>
                </tr>
              </thead>
              <tbody>
                {(r.rules ?? []).map((x) => (
                  <tr>
                    <td>{x.kind}</td>
                    <td>
                      <code>{x.name}</code>
                    </td>
                    <td>{(x.tags ?? []).join(', ')}</td>
                    <td>{x.category}</td>
                    <td>{t(`criticality.${x.severity}` as any, {}, x.severity)}</td>
                    <td>{x.autoResolve ? '✓' : '—'}</td>
                    <td>
                      {x.failAfter ?? 1} / {x.okAfter ?? 1}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>{t('admin.thresholds')}</h2>
          <table class="list compact">
            <tbody>
              {(r.thresholds ?? []).map((x) => (
                <tr>
                  <td>{x.metric}</td>
                  <td>&gt; {x.above}</td>
                  <td>{(x.tags ?? []).join(', ') || t('admin.allHosts')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>{t('admin.assignmentRules')}</h2>
          {(r.assignment ?? []).length === 0 ? (
            <Empty>{t('admin.noAssignment')}</Empty>
          ) : (
            <table class="list compact">
              <tbody>
                {(r.assignment ?? []).map((x) => (
                  <tr>
                    <td>{x.category || '*'}</td>
                    <td>
                      <code>{x.name}</code>
                    </td>
                    <td>{(x.tags ?? []).join(', ')}</td>
                    <td>
                      → {x.group} {x.assignee}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </Loaded>
  );
}

interface AuditEntry {
  id: string;
  at: string;
  actor?: { kind?: string; name?: string; address?: string };
  action: string;
  resource?: string;
  resourceId?: string;
  before?: Record<string, string>;
  after?: Record<string, string>;
}

function Audit() {
  const [cursors, setCursors] = useState<string[]>(['']);
  const state = useAsync(
    () => api.get<Page<AuditEntry>>('/api/v1/audit', { limit: 50, cursor: cursors[cursors.length - 1] }),
    [cursors.length],
  );
  return (
    <Loaded state={state}>
      {(page) => (
        <>
          <table class="list compact">
            <thead>
              <tr>
                <th>{t('admin.when')}</th>
                <th>{t('admin.who')}</th>
                <th>{t('admin.action')}</th>
                <th>{t('admin.what')}</th>
                <th class="grow">{t('admin.change')}</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((a) => (
                <tr>
                  <td>
                    <Time at={a.at} />
                  </td>
                  <td>
                    {a.actor?.name} <span class="muted">{a.actor?.address}</span>
                  </td>
                  <td>{a.action}</td>
                  <td>
                    {a.resource} {a.resourceId}
                  </td>
                  <td class="grow">
                    <code>
                      {Object.entries(a.after ?? {})
                        .map(([k, v]) => `${k}=${v}`)
                        .join(' ')}
                    </code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="buttons">
            <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              {t('newer')}
            </button>
            <button type="button" disabled={!page.nextCursor} onClick={() => setCursors([...cursors, page.nextCursor!])}>
              {t('older')}
            </button>
          </div>
        </>
      )}
    </Loaded>
  );
}

export function Admin({ section }: { section: string }) {
  const offered = sections.filter(([, , allowed]) => allowed());
  if (!offered.length) return <ErrorBox message={t('notAllowed')} />;
  const current = offered.find(([name]) => name === section)?.[0] ?? offered[0][0];
  return (
    <>
      <PageTitle>{t('nav.admin')}</PageTitle>
      <div class="tabs" role="tablist">
        {offered.map(([name, label]) => (
          <Link href={`/admin/${name}`} class={current === name ? 'active' : ''}>
            {t(label as any)}
          </Link>
        ))}
      </div>
      <section class="panel">
        {current === 'users' && <Users />}
        {current === 'tokens' && <Tokens />}
        {current === 'enrollment' && <Enrollment />}
        {current === 'agents' && <Agents />}
        {current === 'maintenance' && <Maintenance />}
        {current === 'rules' && <Rules />}
        {current === 'profiles' && <Profiles />}
        {current === 'audit' && <Audit />}
      </section>
    </>
  );
}
