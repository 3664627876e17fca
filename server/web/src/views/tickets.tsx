import { useState } from 'preact/hooks';
import { api, type Page, type Ticket } from '../api';
import { t } from '../i18n';
import { useLive } from '../live';
import { navigate, useRoute } from '../router';
import { can } from '../session';
import { Empty, Link, Loaded, PageTitle, PriorityBadge, StateBadge, Time, useAsync } from '../ui';

const filterKeys = ['state', 'priority', 'kind', 'assignee', 'unassigned', 'breached', 'group', 'host', 'sort', 'q'] as const;
type Filters = Record<(typeof filterKeys)[number], string>;

interface SavedView {
  name: string;
  query: string;
}

const savedKey = 'fleetdesk.ticketViews';

function loadViews(): SavedView[] {
  try {
    return JSON.parse(localStorage.getItem(savedKey) ?? '[]');
  } catch {
    return [];
  }
}

interface SearchResult {
  items: { ticket: Ticket; matches?: { kind: string; snippet: string }[] }[];
}

export function Tickets() {
  const route = useRoute();
  const filters = Object.fromEntries(filterKeys.map((k) => [k, route.query.get(k) ?? ''])) as Filters;
  if (!route.query.toString()) filters.state = 'open';
  const [views, setViews] = useState(loadViews);
  const [more, setMore] = useState<string[]>([]);
  const set = (change: Partial<Filters>) => {
    const next = new URLSearchParams({ ...filters, ...change } as Record<string, string>);
    for (const [k, v] of [...next.entries()]) if (!v) next.delete(k);
    setMore([]);
    navigate(`/tickets?${next.toString() || 'state='}`, true);
  };
  // The search ranks by relevance and takes no sort.
  const { q, sort, ...searchFilters } = filters;
  const listFilters = { ...searchFilters, sort };
  const state = useAsync(async () => {
    if (q) {
      const found = await api.get<SearchResult>('/api/v1/tickets/search', { ...searchFilters, q, limit: 50 });
      return { items: found.items.map((i) => ({ ticket: i.ticket, snippet: i.matches?.[0]?.snippet })), next: '' };
    }
    const first = await api.get<Page<Ticket>>('/api/v1/tickets', { ...listFilters, limit: 50 });
    const items = first.items.map((ticket) => ({ ticket, snippet: undefined as string | undefined }));
    let next = first.nextCursor ?? '';
    for (const cursor of more) {
      if (!next) break;
      const page = await api.get<Page<Ticket>>('/api/v1/tickets', { ...listFilters, limit: 50, cursor });
      items.push(...page.items.map((ticket) => ({ ticket, snippet: undefined })));
      next = page.nextCursor ?? '';
    }
    return { items, next };
  }, [route.query.toString(), more.length]);
  useLive(['ticket'], () => state.reload(), 500);
  const saveView = () => {
    const name = prompt(t('tickets.viewName'))?.trim();
    if (!name) return;
    const next = [...views.filter((v) => v.name !== name), { name, query: route.query.toString() }];
    localStorage.setItem(savedKey, JSON.stringify(next));
    setViews(next);
  };
  const removeView = (name: string) => {
    const next = views.filter((v) => v.name !== name);
    localStorage.setItem(savedKey, JSON.stringify(next));
    setViews(next);
  };
  return (
    <>
      <PageTitle
        actions={
          can('tickets.create') && (
            <Link href="/tickets/new" class="button primary">
              {t('tickets.new')}
            </Link>
          )
        }
      >
        {t('nav.tickets')}
      </PageTitle>
      <div class="quick" role="group" aria-label={t('tickets.views')}>
        <button
          type="button"
          aria-pressed={filters.state === 'open' && !filters.assignee && !filters.unassigned}
          onClick={() => set({ state: 'open', assignee: '', unassigned: '' })}
        >
          {t('tickets.open')}
        </button>
        <button
          type="button"
          aria-pressed={filters.assignee === 'me'}
          onClick={() => set({ assignee: 'me', unassigned: '', state: 'open' })}
        >
          {t('tickets.mine')}
        </button>
        <button
          type="button"
          aria-pressed={filters.unassigned === 'true'}
          onClick={() => set({ unassigned: 'true', assignee: '', state: 'open' })}
        >
          {t('tickets.unassigned')}
        </button>
        <button type="button" aria-pressed={filters.breached === 'true'} onClick={() => set({ breached: filters.breached ? '' : 'true' })}>
          {t('tickets.breached')}
        </button>
        <button type="button" aria-pressed={!filters.state} onClick={() => set({ state: '' })}>
          {t('tickets.all')}
        </button>
        {views.map((v) => (
          <span class="saved">
            <button type="button" onClick={() => navigate(`/tickets?${v.query}`, true)}>
              {v.name}
            </button>
            <button type="button" class="link" aria-label={t('tickets.removeView', { name: v.name })} onClick={() => removeView(v.name)}>
              ×
            </button>
          </span>
        ))}
        <button type="button" class="link" onClick={saveView}>
          {t('tickets.saveView')}
        </button>
      </div>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <input
          type="search"
          placeholder={t('tickets.searchWords')}
          aria-label={t('tickets.searchWords')}
          value={filters.q}
          onChange={(e) => set({ q: (e.target as HTMLInputElement).value })}
        />
        <select
          aria-label={t('tickets.state')}
          value={filters.state}
          onChange={(e) => set({ state: (e.target as HTMLSelectElement).value })}
        >
          <option value="">{t('tickets.anyState')}</option>
          <option value="open">{t('tickets.open')}</option>
          {['new', 'assigned', 'in_progress', 'pending', 'resolved', 'closed'].map((s) => (
            <option value={s}>{t(`state.${s}` as any)}</option>
          ))}
        </select>
        <select
          aria-label={t('priority')}
          value={filters.priority}
          onChange={(e) => set({ priority: (e.target as HTMLSelectElement).value })}
        >
          <option value="">{t('tickets.anyPriority')}</option>
          {[1, 2, 3, 4, 5].map((p) => (
            <option value={String(p)}>P{p}</option>
          ))}
        </select>
        <select
          aria-label={t('sort')}
          value={filters.sort}
          disabled={!!filters.q}
          onChange={(e) => set({ sort: (e.target as HTMLSelectElement).value })}
        >
          <option value="">{t('tickets.sortNewest')}</option>
          <option value="priority">{t('tickets.sortPriority')}</option>
          <option value="updated">{t('tickets.sortUpdated')}</option>
          <option value="oldest">{t('tickets.sortOldest')}</option>
        </select>
        <select aria-label={t('tickets.kind')} value={filters.kind} onChange={(e) => set({ kind: (e.target as HTMLSelectElement).value })}>
          <option value="">{t('tickets.anyKind')}</option>
          <option value="incident">{t('kind.incident')}</option>
          <option value="request">{t('kind.request')}</option>
        </select>
      </form>
      <Loaded state={state}>
        {({ items, next }) =>
          items.length === 0 ? (
            <Empty>{t('tickets.none')}</Empty>
          ) : (
            <>
              <div class="table-wrap">
                <table class="list">
                  <thead>
                    <tr>
                      <th>#</th>
                      <th>{t('priority')}</th>
                      <th class="title-col">{t('tickets.title')}</th>
                      <th>{t('tickets.state')}</th>
                      <th class="wide">{t('tickets.host')}</th>
                      <th class="wide">{t('tickets.assignee')}</th>
                      <th>{t('tickets.updated')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map(({ ticket: tk, snippet }) => (
                      <tr data-ticket={tk.id}>
                        <td>{tk.id}</td>
                        <td>
                          <PriorityBadge priority={tk.priority} />
                        </td>
                        <td class="title-col">
                          <Link href={`/tickets/${tk.id}`}>{tk.title}</Link>
                          {(tk.sla?.responseBreachedAt || tk.sla?.resolutionBreachedAt) && (
                            <span class="badge breach">{t('sla.breached')}</span>
                          )}
                          {snippet && <div class="snippet" dangerouslySetInnerHTML={{ __html: snippet }} />}
                        </td>
                        <td>
                          <StateBadge state={tk.state} />
                        </td>
                        <td class="wide">{tk.hostname}</td>
                        <td class="wide">{tk.assignee || tk.group || <span class="muted">{t('tickets.nobody')}</span>}</td>
                        <td>
                          <Time at={tk.updatedAt} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {next && (
                <button type="button" class="more" onClick={() => setMore([...more, next])}>
                  {t('more')}
                </button>
              )}
            </>
          )
        }
      </Loaded>
    </>
  );
}
