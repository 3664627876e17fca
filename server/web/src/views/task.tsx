import { useEffect, useState } from 'preact/hooks';
import { api, type Task } from '../api';
import { t } from '../i18n';
import { useLive } from '../live';
import { can } from '../session';
import { ErrorBox, Link, Loaded, PageTitle, StateBadge, Time, errorText, useAsync } from '../ui';

export function TaskDetail({ id }: { id: string }) {
  const state = useAsync(() => api.get<Task>(`/api/v1/tasks/${id}`, { limit: 1000 }), [id]);
  const [error, setError] = useState<string>();
  useLive(['task'], () => state.reload(), 200);
  // Sent and running are not host events: while the task runs, read it again every 2 s too.
  const running = state.data?.state === 'running';
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(state.reload, 2000);
    return () => clearInterval(timer);
  }, [running]);
  const cancel = async () => {
    setError(undefined);
    try {
      await api.post(`/api/v1/tasks/${id}/cancel`);
      state.reload();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <Loaded state={state}>
      {(task) => (
        <>
          <PageTitle
            actions={
              <>
                <StateBadge state={task.state} />
                {running && can('tasks.cancel') && (
                  <button type="button" onClick={cancel}>
                    {t('tasks.cancel')}
                  </button>
                )}
              </>
            }
          >{`${t('tasks.task')} #${task.id} ${task.kind}`}</PageTitle>
          <p class="muted">
            {task.selector} · {task.createdBy} · <Time at={task.createdAt} /> {task.stopReason && `· ${task.stopReason}`}
          </p>
          {error && <ErrorBox message={error} />}
          <div class="counts">
            {Object.entries(task.counts ?? {})
              .filter(([k, v]) => k !== 'total' && Number(v) > 0)
              .map(([k, v]) => (
                <span class={`badge state-${k}`}>
                  {t(`state.${k}` as any, {}, k)} {v}
                </span>
              ))}
          </div>
          <div class="table-wrap">
            <table class="list">
              <thead>
                <tr>
                  <th>{t('tasks.host')}</th>
                  <th>{t('tasks.state')}</th>
                  <th>{t('tasks.exit')}</th>
                  <th>{t('tasks.duration')}</th>
                  <th class="grow">{t('tasks.message')}</th>
                </tr>
              </thead>
              <tbody>
                {(task.hosts ?? []).map((h) => (
                  <tr data-host={h.hostId}>
                    <td>
                      <Link href={`/hosts/${h.hostId}`}>{h.hostname}</Link>
                    </td>
                    <td>
                      <StateBadge state={h.state} />
                    </td>
                    <td>{h.exitCode ?? ''}</td>
                    <td>{h.durationMs ? `${h.durationMs} ms` : ''}</td>
                    <td class="grow">
                      {h.message}
                      {(h.stdout || h.stderr) && (
                        <details>
                          <summary>{t('tasks.output')}</summary>
                          <pre>{h.stdout}</pre>
                          {h.stderr && <pre class="stderr">{h.stderr}</pre>}
                        </details>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Loaded>
  );
}
