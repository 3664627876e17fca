// The global search (Ctrl-K or /): the fleet's hosts, services, checks, inventory values and
// tickets, as the search endpoint ranks them; arrows move, Enter opens.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type SearchHit } from '../api';
import { t } from '../i18n';
import { navigate } from '../router';
import { can } from '../session';
import { errorText } from '../ui';

function target(hit: SearchHit): string {
  if (hit.kind === 'ticket') return `/tickets/${hit.ref}`;
  if (hit.kind === 'host') return `/hosts/${hit.ref}`;
  if (hit.hostId && hit.hostId !== '0') return `/hosts/${hit.hostId}`;
  if (hit.kind === 'package') return `/hosts?${new URLSearchParams({ q: hit.ref })}`;
  if (hit.kind === 'service') return `/hosts?${new URLSearchParams({ q: hit.ref })}`;
  return `/hosts?${new URLSearchParams({ q: hit.title })}`;
}

export function SearchPalette() {
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState<SearchHit[]>([]);
  const [active, setActive] = useState(0);
  const [error, setError] = useState<string>();
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        setOpen(true);
      } else if (e.key === 'Escape') {
        setOpen(false);
      }
    };
    const onOpen = () => setOpen(true);
    window.addEventListener('keydown', onKey);
    window.addEventListener('fleetdesk:search', onOpen);
    return () => {
      window.removeEventListener('keydown', onKey);
      window.removeEventListener('fleetdesk:search', onOpen);
    };
  }, []);
  useEffect(() => {
    if (open) input.current?.focus();
  }, [open]);
  useEffect(() => {
    if (!query.trim()) {
      setHits([]);
      return;
    }
    let stale = false;
    const timer = setTimeout(async () => {
      try {
        const found = can('search.read')
          ? await api.get<{ items: SearchHit[] }>('/api/v1/search', { q: query })
          : {
              items: (
                await api.get<{ items: { ticket: { id: string; title: string }; matches?: { snippet: string }[] }[] }>(
                  '/api/v1/tickets/search',
                  { q: query },
                )
              ).items.map((i) => ({ kind: 'ticket', ref: i.ticket.id, title: i.ticket.title, snippet: i.matches?.[0]?.snippet })),
            };
        if (stale) return;
        setHits(found.items ?? []);
        setActive(0);
        setError(undefined);
      } catch (e) {
        if (!stale) setError(errorText(e));
      }
    }, 150);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [query]);
  if (!open) return null;
  const go = (hit: SearchHit) => {
    setOpen(false);
    setQuery('');
    navigate(target(hit));
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      setActive(Math.min(active + 1, hits.length - 1));
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      setActive(Math.max(active - 1, 0));
    } else if (e.key === 'Enter' && hits[active]) {
      e.preventDefault();
      go(hits[active]);
    }
  };
  return (
    <div class="overlay" onClick={() => setOpen(false)}>
      <div class="palette" role="dialog" aria-modal="true" aria-label={t('search.title')} onClick={(e) => e.stopPropagation()}>
        <input
          ref={input}
          type="search"
          aria-label={t('search.title')}
          aria-controls="search-results"
          aria-activedescendant={hits.length ? `hit-${active}` : undefined}
          placeholder={t('search.placeholder')}
          value={query}
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
          onKeyDown={onKey}
        />
        {error && <p class="error">{error}</p>}
        <ul id="search-results" role="listbox">
          {hits.map((hit, i) => (
            <li
              id={`hit-${i}`}
              role="option"
              aria-selected={i === active}
              class={i === active ? 'active' : ''}
              onMouseEnter={() => setActive(i)}
              onClick={() => go(hit)}
            >
              <span class="badge">{t(`hit.${hit.kind}` as any, {}, hit.kind)}</span> <span class="hit-title">{hit.title}</span>
              {hit.snippet ? (
                <span class="snippet" dangerouslySetInnerHTML={{ __html: hit.snippet }} />
              ) : (
                hit.detail && <span class="muted"> {hit.detail}</span>
              )}
            </li>
          ))}
          {query.trim() && !hits.length && !error && <li class="muted">{t('search.none')}</li>}
        </ul>
      </div>
    </div>
  );
}
