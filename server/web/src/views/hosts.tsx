import { useState } from 'preact/hooks';
import { api, type Host, type Page } from '../api';
import { t } from '../i18n';
import { useLive } from '../live';
import { navigate, useRoute } from '../router';
import { can } from '../session';
import { Empty, ErrorBox, HostStatus, Link, Loaded, PageTitle, Time, errorText, useAsync } from '../ui';

const statuses = ['', 'online', 'offline', 'unreachable', 'pending', 'archived'];

// The filters live in the address, so a filtered list can be bookmarked and shared.
function useFilters() {
  const route = useRoute();
  const q = route.query;
  const filters = {
    status: q.get('status') ?? '',
    tag: q.get('tag') ?? '',
    environment: q.get('environment') ?? '',
    q: q.get('q') ?? '',
    sort: q.get('sort') ?? 'hostname',
  };
  const set = (change: Partial<typeof filters>) => {
    const next = new URLSearchParams({ ...filters, ...change });
    for (const [k, v] of [...next.entries()]) if (!v) next.delete(k);
    navigate(`/hosts${next.toString() ? '?' + next.toString() : ''}`, true);
  };
  return { filters, set };
}

export function Hosts() {
  const { filters, set } = useFilters();
  const [pages, setPages] = useState<string[]>([]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();
  const query = { ...filters, limit: 50 };
  const state = useAsync(async () => {
    const first = await api.get<Page<Host>>('/api/v1/hosts', query);
    const items = [...first.items];
    let next = first.nextCursor;
    for (const cursor of pages) {
      if (!next) break;
      const page = await api.get<Page<Host>>('/api/v1/hosts', { ...query, cursor });
      items.push(...page.items);
      next = page.nextCursor;
    }
    return { items, next };
  }, [JSON.stringify(filters), pages.length]);
  useLive(['host'], () => state.reload(), 1000);
  const exportHref = `/api/v1/hosts/export?${new URLSearchParams(
    Object.fromEntries(Object.entries(filters).filter(([k, v]) => v && k !== 'sort')),
  )}`;
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const editTags = async (add: boolean) => {
    const tag = prompt(add ? t('hosts.tagToAdd') : t('hosts.tagToRemove'))?.trim();
    if (!tag || !state.data) return;
    setError(undefined);
    let done = 0;
    try {
      for (const host of state.data.items.filter((h) => selected.has(h.id))) {
        const tags = new Set(host.tags ?? []);
        if (add) tags.add(tag);
        else tags.delete(tag);
        await api.patch(`/api/v1/hosts/${host.id}`, { tags: [...tags] });
        done++;
      }
      setMessage(t('hosts.tagged', { count: done }));
      setSelected(new Set());
    } catch (e) {
      setError(errorText(e));
    }
    state.reload();
  };
  const importCsv = async (file: File) => {
    setError(undefined);
    try {
      const answer = await api.upload<{ created?: string; updated?: string }>('/api/v1/hosts/import', await file.text(), 'text/csv');
      setMessage(t('hosts.imported', { created: answer.created ?? 0, updated: answer.updated ?? 0 }));
      state.reload();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <>
      <PageTitle
        actions={
          <>
            <a class="button" href={exportHref} download="hosts.csv">
              {t('hosts.export')}
            </a>
            {can('hosts.write') && (
              <label class="button">
                {t('hosts.import')}
                <input
                  type="file"
                  accept=".csv,text/csv"
                  class="hidden-input"
                  onChange={(e) => {
                    const file = (e.target as HTMLInputElement).files?.[0];
                    if (file) importCsv(file);
                    (e.target as HTMLInputElement).value = '';
                  }}
                />
              </label>
            )}
          </>
        }
      >
        {t('nav.hosts')}
      </PageTitle>
      <form class="filters" onSubmit={(e) => e.preventDefault()} role="search">
        <input
          type="search"
          placeholder={t('hosts.filterText')}
          aria-label={t('hosts.filterText')}
          value={filters.q}
          onChange={(e) => set({ q: (e.target as HTMLInputElement).value })}
        />
        <select
          aria-label={t('hosts.status')}
          value={filters.status}
          onChange={(e) => set({ status: (e.target as HTMLSelectElement).value })}
        >
          {statuses.map((s) => (
            <option value={s}>{s ? t(`host.${s}` as any) : t('hosts.anyStatus')}</option>
          ))}
        </select>
        <input
          placeholder={t('hosts.tag')}
          aria-label={t('hosts.tag')}
          value={filters.tag}
          onChange={(e) => set({ tag: (e.target as HTMLInputElement).value })}
        />
        <input
          placeholder={t('hosts.environment')}
          aria-label={t('hosts.environment')}
          value={filters.environment}
          onChange={(e) => set({ environment: (e.target as HTMLInputElement).value })}
        />
        <select aria-label={t('sort')} value={filters.sort} onChange={(e) => set({ sort: (e.target as HTMLSelectElement).value })}>
          <option value="hostname">{t('hosts.sortName')}</option>
          <option value="-lastSeen">{t('hosts.sortLastSeen')}</option>
          <option value="environment">{t('hosts.environment')}</option>
          <option value="-criticality">{t('hosts.criticality')}</option>
        </select>
      </form>
      {message && (
        <p class="notice" role="status">
          {message}
        </p>
      )}
      {error && <ErrorBox message={error} />}
      {can('hosts.write') && selected.size > 0 && (
        <div class="bulk" role="region" aria-label={t('hosts.bulk')}>
          <span>{t('hosts.selected', { count: selected.size })}</span>
          <button type="button" onClick={() => editTags(true)}>
            {t('hosts.addTag')}
          </button>
          <button type="button" onClick={() => editTags(false)}>
            {t('hosts.removeTag')}
          </button>
        </div>
      )}
      <Loaded state={state}>
        {({ items, next }) =>
          items.length === 0 ? (
            <Empty>{t('hosts.none')}</Empty>
          ) : (
            <>
              <div class="table-wrap">
                <table class="list">
                  <thead>
                    <tr>
                      {can('hosts.write') && <th aria-label={t('hosts.select')} />}
                      <th>{t('hosts.name')}</th>
                      <th>{t('hosts.status')}</th>
                      <th class="wide">{t('hosts.os')}</th>
                      <th>{t('hosts.environment')}</th>
                      <th>{t('hosts.tags')}</th>
                      <th>{t('hosts.lastSeen')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((h) => (
                      <tr>
                        {can('hosts.write') && (
                          <td>
                            <input
                              type="checkbox"
                              aria-label={t('hosts.selectHost', { name: h.hostname })}
                              checked={selected.has(h.id)}
                              onChange={() => toggle(h.id)}
                            />
                          </td>
                        )}
                        <td>
                          <Link href={`/hosts/${h.id}`}>{h.hostname || h.id}</Link>
                        </td>
                        <td>
                          <HostStatus status={h.status} />
                        </td>
                        <td class="wide">{h.os?.prettyName}</td>
                        <td>{h.environment}</td>
                        <td>
                          {(h.tags ?? []).map((tag) => (
                            <button type="button" class="tag" onClick={() => set({ tag })}>
                              {tag}
                            </button>
                          ))}
                        </td>
                        <td>
                          <Time at={h.lastSeen} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {next && (
                <button type="button" class="more" onClick={() => setPages([...pages, next])}>
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
