import { useState } from 'preact/hooks';
import { api, type Page, type Task } from '../api';
import { t } from '../i18n';
import { useLive } from '../live';
import { navigate, useRoute } from '../router';
import { can } from '../session';
import { Empty, ErrorBox, Link, Loaded, PageTitle, StateBadge, Time, errorText, useAsync } from '../ui';

const kinds = ['service.restart', 'service.start', 'service.stop', 'service.reload', 'command.run', 'file.write', 'inventory.refresh'];

interface DryRun {
  hosts?: number;
  targets?: { hostId: string; hostname: string; batch?: number }[];
  batchSize?: number;
  batches?: number;
}

function Dispatch() {
  const route = useRoute();
  const [kind, setKind] = useState('service.restart');
  const [unit, setUnit] = useState('');
  const [argv, setArgv] = useState('');
  const [path, setPath] = useState('');
  const [content, setContent] = useState('');
  const [hostIds, setHostIds] = useState(route.query.get('host') ?? '');
  const [tags, setTags] = useState('');
  const [batchPercent, setBatchPercent] = useState('');
  const [maxFailures, setMaxFailures] = useState('');
  const [preview, setPreview] = useState<DryRun>();
  const [error, setError] = useState<string>();
  const body = () => {
    const b: Record<string, unknown> = { kind };
    if (kind.startsWith('service.')) b.service = { unit };
    if (kind === 'command.run') b.command = { argv: argv.split(' ').filter(Boolean) };
    if (kind === 'file.write') b.fileWrite = { path, content: btoa(unescape(encodeURIComponent(content))) };
    const ids = hostIds
      .split(/[ ,]+/)
      .map((x) => x.trim())
      .filter(Boolean);
    if (ids.length) b.hostIds = ids;
    else
      b.selector = {
        tags: tags
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      };
    const rollout: Record<string, number> = {};
    if (batchPercent) rollout.batchPercent = Number(batchPercent);
    if (maxFailures) rollout.maxFailures = Number(maxFailures);
    if (Object.keys(rollout).length) b.rollout = rollout;
    // Dispatched from a ticket: the task is a change of that ticket, and its timeline says so.
    const ticket = route.query.get('ticket');
    if (ticket) b.ticketId = ticket;
    return b;
  };
  const dryRun = async () => {
    setError(undefined);
    try {
      setPreview(await api.post<DryRun>('/api/v1/tasks', { ...body(), dryRun: true }));
    } catch (err) {
      setPreview(undefined);
      setError(errorText(err));
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const task = await api.post<Task>('/api/v1/tasks', body());
      navigate(`/tasks/${task.id}`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form class="panel form" onSubmit={submit} aria-label={t('tasks.dispatch')}>
      <h2>{t('tasks.dispatch')}</h2>
      {route.query.get('ticket') && <p class="muted">{t('tasks.forTicket', { id: route.query.get('ticket')! })}</p>}
      <label>
        {t('tasks.kind')}
        <select value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
          {kinds.map((k) => (
            <option value={k}>{k}</option>
          ))}
        </select>
      </label>
      {kind.startsWith('service.') && (
        <label>
          {t('tasks.unit')}
          <input required placeholder="nginx.service" value={unit} onInput={(e) => setUnit((e.target as HTMLInputElement).value)} />
        </label>
      )}
      {kind === 'command.run' && (
        <label>
          {t('tasks.argv')}
          <input
            required
            placeholder="/usr/bin/systemctl daemon-reload"
            value={argv}
            onInput={(e) => setArgv((e.target as HTMLInputElement).value)}
          />
        </label>
      )}
      {kind === 'file.write' && (
        <>
          <label>
            {t('tasks.path')}
            <input required placeholder="/etc/motd" value={path} onInput={(e) => setPath((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            {t('tasks.content')}
            <textarea rows={4} value={content} onInput={(e) => setContent((e.target as HTMLTextAreaElement).value)} />
          </label>
        </>
      )}
      <label>
        {t('tasks.hostIds')}
        <input placeholder="12, 14" value={hostIds} onInput={(e) => setHostIds((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        {t('tasks.tags')}
        <input
          placeholder="web, production"
          disabled={!!hostIds.trim()}
          value={tags}
          onInput={(e) => setTags((e.target as HTMLInputElement).value)}
        />
      </label>
      <div class="inline">
        <label>
          {t('tasks.batchPercent')}
          <input
            type="number"
            min={1}
            max={100}
            value={batchPercent}
            onInput={(e) => setBatchPercent((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          {t('tasks.maxFailures')}
          <input type="number" min={0} value={maxFailures} onInput={(e) => setMaxFailures((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      {error && <ErrorBox message={error} />}
      {preview && (
        <div class="notice" role="status">
          {t('tasks.preview', { hosts: preview.hosts ?? 0, batches: preview.batches ?? 1 })}
          <div class="muted">
            {(preview.targets ?? [])
              .slice(0, 20)
              .map((h) => h.hostname)
              .join(', ')}
          </div>
        </div>
      )}
      <div class="buttons">
        <button type="button" onClick={dryRun}>
          {t('tasks.dryRun')}
        </button>
        <button type="submit" class="primary">
          {t('tasks.send')}
        </button>
      </div>
    </form>
  );
}

export function Tasks() {
  const state = useAsync(() => api.get<Page<Task>>('/api/v1/tasks', { limit: 50 }), []);
  useLive(['task'], () => state.reload(), 500);
  return (
    <>
      <PageTitle>{t('nav.tasks')}</PageTitle>
      <div class="columns">
        {can('tasks.submit') && <Dispatch />}
        <section class="panel">
          <h2>{t('tasks.recent')}</h2>
          <Loaded state={state}>
            {(page) =>
              page.items.length === 0 ? (
                <Empty>{t('tasks.none')}</Empty>
              ) : (
                <table class="list">
                  <thead>
                    <tr>
                      <th>#</th>
                      <th>{t('tasks.kind')}</th>
                      <th>{t('tasks.state')}</th>
                      <th>{t('tasks.results')}</th>
                      <th>{t('tasks.when')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((task) => (
                      <tr>
                        <td>
                          <Link href={`/tasks/${task.id}`}>{task.id}</Link>
                        </td>
                        <td>{task.kind}</td>
                        <td>
                          <StateBadge state={task.state} />
                        </td>
                        <td>
                          {task.counts?.succeeded ?? 0}/{task.counts?.total ?? 0}
                          {(task.counts?.failed ?? 0) + (task.counts?.timedOut ?? 0) > 0 && (
                            <span class="bad">
                              {' '}
                              · {t('tasks.failedCount', { count: (task.counts?.failed ?? 0) + (task.counts?.timedOut ?? 0) })}
                            </span>
                          )}
                        </td>
                        <td>
                          <Time at={task.createdAt} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )
            }
          </Loaded>
        </section>
      </div>
    </>
  );
}
