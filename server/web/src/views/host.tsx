import { useState } from 'preact/hooks';
import { api, type Check, type Host, type Page, type Task, type Ticket, type TimelineEntry } from '../api';
import { Chart, palette } from '../charts';
import { t } from '../i18n';
import { useLive } from '../live';
import { can } from '../session';
import {
  Empty,
  ErrorBox,
  HostStatus,
  Link,
  Loaded,
  PageTitle,
  PriorityBadge,
  StateBadge,
  Time,
  errorText,
  formatBytes,
  useAsync,
  SaveCancel,
} from '../ui';

const ranges: [string, number][] = [
  ['1h', 3600],
  ['24h', 86400],
  ['7d', 7 * 86400],
  ['30d', 30 * 86400],
];

interface MetricPoint {
  at: string;
  cpuPercent?: number;
  memoryPercent?: number;
  diskPercent?: number;
  load1?: number;
}

function Metrics({ id }: { id: string }) {
  const [range, setRange] = useState(86400);
  const state = useAsync(() => {
    const to = new Date();
    const from = new Date(to.getTime() - range * 1000);
    return api.get<{ points?: MetricPoint[] }>(`/api/v1/hosts/${id}/metrics`, {
      from: from.toISOString(),
      to: to.toISOString(),
      resolution: 'auto',
    });
  }, [id, range]);
  return (
    <section class="panel">
      <div class="panel-head">
        <h2>{t('host.metrics')}</h2>
        <div class="segmented" role="group" aria-label={t('host.range')}>
          {ranges.map(([label, seconds]) => (
            <button type="button" aria-pressed={range === seconds} onClick={() => setRange(seconds)}>
              {label}
            </button>
          ))}
        </div>
      </div>
      <Loaded state={state}>
        {(m) =>
          !m.points?.length ? (
            <Empty>{t('host.noMetrics')}</Empty>
          ) : (
            <Chart
              label={t('host.metrics')}
              option={{
                color: palette,
                tooltip: { trigger: 'axis' },
                legend: { top: 0, data: ['CPU %', t('host.memory') + ' %', t('host.disk') + ' %'] },
                grid: { left: 40, right: 16, top: 36, bottom: 28 },
                xAxis: { type: 'time' },
                yAxis: { type: 'value', max: 100 },
                series: [
                  { name: 'CPU %', type: 'line', showSymbol: false, data: m.points.map((p) => [p.at, p.cpuPercent ?? 0]) },
                  {
                    name: t('host.memory') + ' %',
                    type: 'line',
                    showSymbol: false,
                    data: m.points.map((p) => [p.at, p.memoryPercent ?? 0]),
                  },
                  { name: t('host.disk') + ' %', type: 'line', showSymbol: false, data: m.points.map((p) => [p.at, p.diskPercent ?? 0]) },
                ],
              }}
            />
          )
        }
      </Loaded>
    </section>
  );
}

// Where each check's last latency went: name lookup, connect, TLS, first byte.
function CheckLatency({ checks }: { checks: Check[] }) {
  const phases = [
    ['DNS', 'dnsMs'],
    ['TCP', 'connectMs'],
    ['TLS', 'tlsMs'],
    [t('host.firstByte'), 'firstByteMs'],
  ] as const;
  return (
    <Chart
      label={t('host.latency')}
      height={70 + 32 * checks.length}
      option={{
        color: palette,
        tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
        legend: { top: 0, data: phases.map(([name]) => name) },
        grid: { left: 140, right: 24, top: 36, bottom: 24 },
        xAxis: { type: 'value', name: 'ms' },
        yAxis: { type: 'category', data: checks.map((c) => c.key ?? '') },
        series: phases.map(([name, field]) => ({
          name,
          type: 'bar',
          stack: 'phases',
          data: checks.map((c) => Math.round(((c as Record<string, any>)[field] ?? 0) * 10) / 10),
        })),
      }}
    />
  );
}

const attributes = ['owner', 'location', 'environment', 'role', 'criticality', 'notes'] as const;

function Attributes({ host, onSaved }: { host: Host; onSaved: () => void }) {
  const [editing, setEditing] = useState(false);
  const [values, setValues] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const start = () => {
    const v: Record<string, string> = { tags: (host.tags ?? []).join(', ') };
    for (const a of attributes) v[a] = (host as any)[a] ?? '';
    setValues(v);
    setEditing(true);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    const change: Record<string, unknown> = {};
    for (const a of attributes) if (values[a] !== ((host as any)[a] ?? '')) change[a] = values[a];
    const tags = values.tags
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (tags.join(',') !== (host.tags ?? []).join(',')) change.tags = tags;
    try {
      if (Object.keys(change).length) await api.patch(`/api/v1/hosts/${host.id}`, change);
      setEditing(false);
      onSaved();
    } catch (err) {
      setError(errorText(err));
    }
  };
  if (!editing) {
    return (
      <section class="panel">
        <div class="panel-head">
          <h2>{t('host.attributes')}</h2>
          {can('hosts.write') && (
            <button type="button" onClick={start}>
              {t('edit')}
            </button>
          )}
        </div>
        <dl class="facts">
          {attributes.map((a) => (
            <>
              <dt>{t(`host.attr.${a}`)}</dt>
              <dd>{(host as any)[a] || <span class="muted">—</span>}</dd>
            </>
          ))}
          <dt>{t('hosts.tags')}</dt>
          <dd>
            {(host.tags ?? []).map((tag) => (
              <span class="tag">{tag}</span>
            ))}
          </dd>
        </dl>
      </section>
    );
  }
  return (
    <form class="panel form" onSubmit={save}>
      <h2>{t('host.attributes')}</h2>
      {attributes.map((a) =>
        a === 'criticality' ? (
          <label>
            {t('host.attr.criticality')}
            <select value={values[a]} onChange={(e) => setValues({ ...values, [a]: (e.target as HTMLSelectElement).value })}>
              {['low', 'medium', 'high', 'critical'].map((c) => (
                <option value={c}>{t(`criticality.${c}` as any)}</option>
              ))}
            </select>
          </label>
        ) : (
          <label>
            {t(`host.attr.${a}`)}
            <input value={values[a]} onInput={(e) => setValues({ ...values, [a]: (e.target as HTMLInputElement).value })} />
          </label>
        ),
      )}
      <label>
        {t('hosts.tags')}
        <input value={values.tags} onInput={(e) => setValues({ ...values, tags: (e.target as HTMLInputElement).value })} />
      </label>
      {error && <ErrorBox message={error} />}
      <SaveCancel onCancel={() => setEditing(false)} />
    </form>
  );
}

function Inventory({ host }: { host: Host }) {
  const sections = host.inventory ?? [];
  if (!sections.length) return <Empty>{t('host.noInventory')}</Empty>;
  return (
    <div class="inventory">
      {sections.map((section: any) => {
        const [name, body] = Object.entries(section).find(([k]) => k !== 'hash') ?? ['', {}];
        return (
          <details>
            <summary>{t(`inventory.${name}` as any, {}, name)}</summary>
            <InventoryBody value={body} />
          </details>
        );
      })}
    </div>
  );
}

function InventoryBody({ value }: { value: unknown }) {
  if (Array.isArray(value)) {
    if (value.length && typeof value[0] === 'object') {
      const keys = [...new Set(value.flatMap((v) => Object.keys(v as object)))].slice(0, 8);
      return (
        <div class="table-wrap">
          <table class="list compact">
            <thead>
              <tr>
                {keys.map((k) => (
                  <th>{k}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {value.slice(0, 500).map((row: any) => (
                <tr>
                  {keys.map((k) => (
                    <td>{typeof row[k] === 'object' ? JSON.stringify(row[k]) : String(row[k] ?? '')}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      );
    }
    return <span>{value.join(', ')}</span>;
  }
  if (value && typeof value === 'object') {
    return (
      <dl class="facts">
        {Object.entries(value).map(([k, v]) => (
          <>
            <dt>{k}</dt>
            <dd>{typeof v === 'object' ? <InventoryBody value={v} /> : k.endsWith('Bytes') ? formatBytes(v as string) : String(v)}</dd>
          </>
        ))}
      </dl>
    );
  }
  return <span>{String(value ?? '')}</span>;
}

function History({ id }: { id: string }) {
  const state = useAsync(() => api.get<Page<TimelineEntry>>(`/api/v1/hosts/${id}/history`, { limit: 50 }), [id]);
  useLive(['host', 'task'], (e) => {
    if (!e || e.id === id) state.reload();
  });
  return (
    <Loaded state={state}>
      {(page) =>
        page.items.length === 0 ? (
          <Empty>{t('host.noHistory')}</Empty>
        ) : (
          <ol class="timeline">
            {page.items.map((e) => (
              <li>
                <Time at={e.at} /> <strong>{t(`event.${e.kind}` as any, {}, e.kind)}</strong> {e.subject}{' '}
                {e.oldValue && <span class="muted">{e.oldValue} →</span>} {e.newValue} {e.actor && <span class="muted">({e.actor})</span>}
              </li>
            ))}
          </ol>
        )
      }
    </Loaded>
  );
}

export function HostDetail({ id }: { id: string }) {
  const state = useAsync(() => api.get<Host>(`/api/v1/hosts/${id}`), [id]);
  const tickets = useAsync(() => api.get<Page<Ticket>>('/api/v1/tickets', { host: id, limit: 20 }), [id]);
  const tasks = useAsync(
    () => (can('tasks.read') ? api.get<Page<any>>(`/api/v1/hosts/${id}/tasks`, { limit: 20 }) : Promise.resolve({ items: [] })),
    [id],
  );
  useLive(['host', 'ticket', 'task'], (e) => {
    if (!e || e.id === id) state.reload();
    tickets.reload();
    tasks.reload();
  });
  const [tab, setTab] = useState<'services' | 'checks' | 'inventory' | 'history'>('services');
  return (
    <Loaded state={state}>
      {(host) => (
        <>
          <PageTitle actions={<HostStatus status={host.status} />}>{host.hostname || `#${host.id}`}</PageTitle>
          <p class="muted">
            {host.os?.prettyName} · {host.os?.kernel} · {t('hosts.lastSeen')} <Time at={host.lastSeen} />
          </p>
          <div class="columns">
            <Attributes host={host} onSaved={state.reload} />
            <Metrics id={id} />
          </div>
          <div class="tabs" role="tablist">
            {(['services', 'checks', 'inventory', 'history'] as const).map((name) => (
              <button type="button" role="tab" aria-selected={tab === name} onClick={() => setTab(name)}>
                {t(`host.tab.${name}`)}
              </button>
            ))}
          </div>
          <section class="panel" role="tabpanel">
            {tab === 'services' &&
              (host.services?.length ? (
                <div class="table-wrap">
                  <table class="list">
                    <thead>
                      <tr>
                        <th>{t('host.unit')}</th>
                        <th>{t('host.state')}</th>
                        <th class="wide">{t('host.description')}</th>
                        <th>{t('host.since')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {host.services.map((s) => (
                        <tr data-unit={s.unit}>
                          <td>{s.unit}</td>
                          <td>
                            <span class={`badge unit-${s.activeState}`}>
                              {s.activeState}
                              {s.subState ? ` (${s.subState})` : ''}
                            </span>
                          </td>
                          <td class="wide">{s.description}</td>
                          <td>
                            <Time at={s.stateChangeTime} />
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              ) : (
                <Empty>{t('host.noServices')}</Empty>
              ))}
            {tab === 'checks' &&
              (host.checks?.length ? (
                <>
                  <CheckLatency checks={host.checks} />
                  <div class="table-wrap">
                    <table class="list">
                      <thead>
                        <tr>
                          <th>{t('host.check')}</th>
                          <th>{t('host.state')}</th>
                          <th>{t('host.latency')}</th>
                          <th class="wide">{t('host.message')}</th>
                        </tr>
                      </thead>
                      <tbody>
                        {host.checks.map((c) => (
                          <tr>
                            <td>{c.key}</td>
                            <td>
                              <span class={`badge ${c.up ? 'unit-active' : 'unit-failed'}`}>{c.up ? t('check.up') : t('check.down')}</span>
                            </td>
                            <td>{c.latencyMs !== undefined ? `${Math.round(c.latencyMs)} ms` : ''}</td>
                            <td class="wide">{c.message}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                </>
              ) : (
                <Empty>{t('host.noChecks')}</Empty>
              ))}
            {tab === 'inventory' && <Inventory host={host} />}
            {tab === 'history' && <History id={id} />}
          </section>
          <div class="columns">
            <section class="panel">
              <div class="panel-head">
                <h2>{t('nav.tickets')}</h2>
                {can('tickets.create') && (
                  <Link href={`/tickets/new?host=${id}`} class="button">
                    {t('tickets.new')}
                  </Link>
                )}
              </div>
              <Loaded state={tickets}>
                {(page) =>
                  page.items.length === 0 ? (
                    <Empty>{t('tickets.none')}</Empty>
                  ) : (
                    <ul class="plain">
                      {page.items.map((tk) => (
                        <li>
                          <PriorityBadge priority={tk.priority} /> <StateBadge state={tk.state} />{' '}
                          <Link href={`/tickets/${tk.id}`}>
                            #{tk.id} {tk.title}
                          </Link>
                        </li>
                      ))}
                    </ul>
                  )
                }
              </Loaded>
            </section>
            {can('tasks.read') && (
              <section class="panel">
                <div class="panel-head">
                  <h2>{t('nav.tasks')}</h2>
                  {can('tasks.submit') && (
                    <Link href={`/tasks?host=${id}`} class="button">
                      {t('tasks.dispatch')}
                    </Link>
                  )}
                </div>
                <Loaded state={tasks}>
                  {(page) =>
                    page.items.length === 0 ? (
                      <Empty>{t('tasks.none')}</Empty>
                    ) : (
                      <ul class="plain">
                        {page.items.map((r: Task & { taskId?: string }) => (
                          <li>
                            <StateBadge state={r.state} />{' '}
                            <Link href={`/tasks/${r.taskId ?? r.id}`}>
                              #{r.taskId ?? r.id} {r.kind}
                            </Link>{' '}
                            <span class="muted">{(r as any).message}</span>
                          </li>
                        ))}
                      </ul>
                    )
                  }
                </Loaded>
              </section>
            )}
          </div>
        </>
      )}
    </Loaded>
  );
}
