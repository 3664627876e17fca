import { useEffect, useState } from 'preact/hooks';
import { api, type Note, type Page, type Ticket, type TimelineEntry, type User, type WorklogEntry } from '../api';
import { t } from '../i18n';
import { useLive } from '../live';
import { can } from '../session';
import {
  Empty,
  ErrorBox,
  Link,
  Loaded,
  PageTitle,
  PriorityBadge,
  StateBadge,
  Time,
  errorText,
  formatNumber,
  formatTime,
  relativeTime,
  useAsync,
  SaveCancel,
} from '../ui';

const levels = ['low', 'medium', 'high', 'critical'];

// Counts down to an SLA target, or says it was breached, or that the clock is paused.
function SlaClock({ label, due, breachedAt, paused }: { label: string; due?: string; breachedAt?: string; paused?: boolean }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 30_000);
    return () => clearInterval(timer);
  }, []);
  let text: string;
  let tone = '';
  if (breachedAt) {
    text = t('sla.breachedAt', { when: formatTime(breachedAt) });
    tone = 'bad';
  } else if (paused) {
    text = t('sla.paused');
  } else if (due) {
    const left = new Date(due).getTime() - Date.now();
    text = left < 0 ? t('sla.overdue', { when: relativeTime(due) }) : t('sla.due', { when: relativeTime(due) });
    tone = left < 0 ? 'bad' : left < 3600_000 ? 'warn' : 'good';
  } else {
    text = t('sla.met');
    tone = 'good';
  }
  return (
    <div class={`sla ${tone}`}>
      <span class="sla-label">{label}</span> <span>{text}</span>
    </div>
  );
}

function Actions({ ticket, onDone }: { ticket: Ticket; onDone: () => void }) {
  const [action, setAction] = useState<string>();
  const [comment, setComment] = useState('');
  const [group, setGroup] = useState(ticket.group ?? '');
  const [assignee, setAssignee] = useState(ticket.assigneeId && ticket.assigneeId !== '0' ? ticket.assigneeId : '');
  const [error, setError] = useState<string>();
  const users = useAsync(
    () =>
      action === 'assign' && can('users.read') ? api.get<{ items: User[] }>('/api/v1/users') : Promise.resolve({ items: [] as User[] }),
    [action],
  );
  const offered = ticket.actions ?? [];
  if (!offered.length) return null;
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    const body: Record<string, unknown> = { action, comment };
    if (action === 'assign') {
      if (group) body.group = group;
      if (assignee) body.assigneeId = assignee;
    }
    try {
      await api.post(`/api/v1/tickets/${ticket.id}/actions`, body);
      setAction(undefined);
      setComment('');
      onDone();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section class="panel" aria-label={t('ticket.actions')}>
      <div class="buttons">
        {offered.map((a) => (
          <button
            type="button"
            class={action === a ? 'primary' : ''}
            aria-pressed={action === a}
            onClick={() => setAction(action === a ? undefined : a)}
          >
            {t(`action.${a}` as any, {}, a)}
          </button>
        ))}
      </div>
      {action && (
        <form class="form" onSubmit={submit}>
          {action === 'assign' && (
            <>
              <label>
                {t('ticket.group')}
                <input value={group} onInput={(e) => setGroup((e.target as HTMLInputElement).value)} />
              </label>
              <label>
                {t('ticket.assignee')}
                <select value={assignee} onChange={(e) => setAssignee((e.target as HTMLSelectElement).value)}>
                  <option value="">{t('tickets.nobody')}</option>
                  {(users.data?.items ?? [])
                    .filter((u) => !u.disabled && (u.role === 'admin' || u.role === 'operator'))
                    .map((u) => (
                      <option value={u.id}>{u.name}</option>
                    ))}
                </select>
              </label>
            </>
          )}
          <label>
            {t('ticket.comment')}
            <textarea rows={2} value={comment} onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)} />
          </label>
          {error && <ErrorBox message={error} />}
          <button type="submit" class="primary">
            {t(`action.${action}` as any, {}, action)}
          </button>
        </form>
      )}
    </section>
  );
}

function Priority({ ticket, onDone }: { ticket: Ticket; onDone: () => void }) {
  const [editing, setEditing] = useState(false);
  const [impact, setImpact] = useState(ticket.impact ?? 'medium');
  const [urgency, setUrgency] = useState(ticket.urgency ?? 'medium');
  const [priority, setPriority] = useState('');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string>();
  const save = async (e: Event) => {
    e.preventDefault();
    const change: Record<string, unknown> = {};
    if (impact !== ticket.impact) change.impact = impact;
    if (urgency !== ticket.urgency) change.urgency = urgency;
    if (priority) {
      change.priority = Number(priority);
      change.priorityReason = reason;
    }
    try {
      if (Object.keys(change).length) await api.patch(`/api/v1/tickets/${ticket.id}`, change);
      setEditing(false);
      onDone();
    } catch (err) {
      setError(errorText(err));
    }
  };
  if (!editing) {
    return (
      <div class="priority-line">
        <PriorityBadge priority={ticket.priority} /> {t('ticket.impact')}: {t(`criticality.${ticket.impact}` as any, {}, ticket.impact)} ·{' '}
        {t('ticket.urgency')}: {t(`criticality.${ticket.urgency}` as any, {}, ticket.urgency)}
        {ticket.priorityReason && <span class="muted"> — {ticket.priorityReason}</span>}
        {can('tickets.edit') && (
          <button type="button" class="link" onClick={() => setEditing(true)}>
            {t('edit')}
          </button>
        )}
      </div>
    );
  }
  return (
    <form class="form inline" onSubmit={save}>
      <label>
        {t('ticket.impact')}
        <select value={impact} onChange={(e) => setImpact((e.target as HTMLSelectElement).value)}>
          {levels.map((l) => (
            <option value={l}>{t(`criticality.${l}` as any)}</option>
          ))}
        </select>
      </label>
      <label>
        {t('ticket.urgency')}
        <select value={urgency} onChange={(e) => setUrgency((e.target as HTMLSelectElement).value)}>
          {levels.map((l) => (
            <option value={l}>{t(`criticality.${l}` as any)}</option>
          ))}
        </select>
      </label>
      <label>
        {t('ticket.override')}
        <select value={priority} onChange={(e) => setPriority((e.target as HTMLSelectElement).value)}>
          <option value="">{t('ticket.fromMatrix')}</option>
          {[1, 2, 3, 4, 5].map((p) => (
            <option value={String(p)}>P{p}</option>
          ))}
        </select>
      </label>
      {priority && (
        <label>
          {t('ticket.reason')}
          <input required value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
        </label>
      )}
      {error && <ErrorBox message={error} />}
      <SaveCancel onCancel={() => setEditing(false)} />
    </form>
  );
}

function Notes({ ticket }: { ticket: Ticket }) {
  const notes = useAsync(() => api.get<{ items: Note[] }>(`/api/v1/tickets/${ticket.id}/notes`), [ticket.id]);
  const [body, setBody] = useState('');
  const [internal, setInternal] = useState(false);
  const [error, setError] = useState<string>();
  useLive(['ticket'], (e) => {
    if (!e || (e.id === ticket.id && e.kind === 'note')) notes.reload();
  });
  const mayWrite = can('notes.public') || can('notes.internal');
  const add = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      await api.post(`/api/v1/tickets/${ticket.id}/notes`, { body, internal });
      setBody('');
      notes.reload();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section class="panel">
      <h2>{t('ticket.notes')}</h2>
      <Loaded state={notes}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{t('ticket.noNotes')}</Empty>
          ) : (
            <ul class="notes">
              {page.items.map((n) => (
                <li class={n.internal ? 'internal' : ''}>
                  <div class="note-head">
                    <strong>{n.author}</strong> <Time at={n.at} /> {n.internal && <span class="badge">{t('ticket.internal')}</span>}
                  </div>
                  <div class="note-body">{n.body}</div>
                </li>
              ))}
            </ul>
          )
        }
      </Loaded>
      {mayWrite && (
        <form class="form" onSubmit={add}>
          <label>
            {t('ticket.addNote')}
            <textarea required rows={3} value={body} onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)} />
          </label>
          {can('notes.internal') && (
            <label class="check">
              <input type="checkbox" checked={internal} onChange={(e) => setInternal((e.target as HTMLInputElement).checked)} />{' '}
              {t('ticket.internalNote')}
            </label>
          )}
          {error && <ErrorBox message={error} />}
          <button type="submit" class="primary">
            {t('ticket.addNote')}
          </button>
        </form>
      )}
    </section>
  );
}

// The worklog is a stream of its own, paged separately: a job may have written 100,000 lines.
function Worklog({ ticket }: { ticket: Ticket }) {
  const [cursors, setCursors] = useState<string[]>(['']);
  const page = useAsync(
    () =>
      api.get<Page<WorklogEntry> & { total?: string }>(`/api/v1/tickets/${ticket.id}/worklog`, {
        limit: 50,
        cursor: cursors[cursors.length - 1],
      }),
    [ticket.id, cursors.length],
  );
  return (
    <section class="panel">
      <div class="panel-head">
        <h2>
          {t('ticket.worklog')} <span class="muted">({formatNumber(ticket.worklogCount ?? 0)})</span>
        </h2>
        <div class="buttons">
          <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
            {t('newer')}
          </button>
          <button type="button" disabled={!page.data?.nextCursor} onClick={() => setCursors([...cursors, page.data!.nextCursor!])}>
            {t('older')}
          </button>
        </div>
      </div>
      <Loaded state={page}>
        {(p) =>
          p.items.length === 0 ? (
            <Empty>{t('ticket.noWorklog')}</Empty>
          ) : (
            <table class="list compact worklog">
              <tbody>
                {p.items.map((w) => (
                  <tr>
                    <td>
                      <Time at={w.at} />
                    </td>
                    <td>
                      <code>{w.task}</code>
                    </td>
                    <td class="grow">{w.note}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Loaded>
    </section>
  );
}

// A state's value in words of the current language; other values as they are.
function value(kind: string, text?: string) {
  if (!text) return '';
  return kind === 'state' || kind === 'created' ? t(`state.${text}` as any, {}, text) : text;
}

// A task's entry ("task 42 to 3 hosts") links to the task.
function taskLink(e: TimelineEntry) {
  const id = e.kind === 'task' ? /^task (\d+)/.exec(e.newValue ?? '')?.[1] : undefined;
  return id ? <Link href={`/tasks/${id}`}>{e.newValue}</Link> : undefined;
}

function Timeline({ ticket }: { ticket: Ticket }) {
  const state = useAsync(
    () => api.get<Page<TimelineEntry>>(`/api/v1/tickets/${ticket.id}/timeline`, { limit: 100 }),
    [ticket.id, ticket.updatedAt],
  );
  return (
    <section class="panel">
      <h2>{t('ticket.timeline')}</h2>
      <Loaded state={state}>
        {(page) => (
          <ol class="timeline">
            {page.items.map((e) => (
              <li>
                <Time at={e.at} /> <strong>{t(`timeline.${e.kind}` as any, {}, e.kind)}</strong>{' '}
                {e.kind === 'state' ? t(`action.${e.subject}` as any, {}, e.subject) : e.subject}{' '}
                {e.oldValue && <span class="muted">{value(e.kind, e.oldValue)} →</span>} {taskLink(e) ?? value(e.kind, e.newValue)}{' '}
                <span class="muted">{e.actor}</span>
              </li>
            ))}
          </ol>
        )}
      </Loaded>
    </section>
  );
}

export function TicketDetail({ id }: { id: string }) {
  const state = useAsync(() => api.get<Ticket>(`/api/v1/tickets/${id}`), [id]);
  useLive(['ticket'], (e) => {
    if (!e || e.id === id) state.reload();
  });
  return (
    <Loaded state={state}>
      {(tk) => (
        <>
          <PageTitle actions={<StateBadge state={tk.state} />}>{`#${tk.id} ${tk.title}`}</PageTitle>
          <div class="ticket-head">
            <Priority ticket={tk} onDone={state.reload} />
            <dl class="facts">
              <dt>{t('tickets.kind')}</dt>
              <dd>{t(`kind.${tk.kind}` as any, {}, tk.kind)}</dd>
              {tk.hostId && tk.hostId !== '0' && (
                <>
                  <dt>{t('tickets.host')}</dt>
                  <dd>
                    <Link href={`/hosts/${tk.hostId}`}>{tk.hostname}</Link>
                  </dd>
                </>
              )}
              <dt>{t('ticket.group')}</dt>
              <dd>{tk.group || '—'}</dd>
              <dt>{t('ticket.assignee')}</dt>
              <dd>{tk.assignee || t('tickets.nobody')}</dd>
              {tk.requester && (
                <>
                  <dt>{t('ticket.requester')}</dt>
                  <dd>{tk.requester}</dd>
                </>
              )}
              {tk.occurrences !== undefined && tk.occurrences > 1 && (
                <>
                  <dt>{t('ticket.occurrences')}</dt>
                  <dd>
                    {tk.occurrences} {tk.flapping && <span class="badge breach">{t('ticket.flapping')}</span>}
                  </dd>
                </>
              )}
              <dt>{t('ticket.created')}</dt>
              <dd>{formatTime(tk.createdAt)}</dd>
            </dl>
            <div class="slas">
              <SlaClock
                label={t('sla.response')}
                due={tk.sla?.responseDue}
                breachedAt={tk.sla?.responseBreachedAt}
                paused={tk.sla?.paused}
              />
              <SlaClock
                label={t('sla.resolution')}
                due={tk.sla?.resolutionDue}
                breachedAt={tk.sla?.resolutionBreachedAt}
                paused={tk.sla?.paused}
              />
            </div>
          </div>
          {tk.description && <p class="description">{tk.description}</p>}
          <Actions ticket={tk} onDone={state.reload} />
          {can('tasks.submit') && tk.hostId && tk.hostId !== '0' && (
            <p>
              <Link href={`/tasks?host=${tk.hostId}&ticket=${tk.id}`} class="button">
                {t('ticket.dispatch')}
              </Link>
            </p>
          )}
          <div class="columns">
            <Notes ticket={tk} />
            <Timeline ticket={tk} />
          </div>
          <Worklog ticket={tk} />
        </>
      )}
    </Loaded>
  );
}
