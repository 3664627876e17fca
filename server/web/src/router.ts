// The dashboard's routes are plain paths (/hosts/12); the server answers each with this page.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();

export function navigate(path: string, replace = false) {
  if (path === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  listeners.forEach((l) => l());
  window.scrollTo(0, 0);
}

window.addEventListener('popstate', () => listeners.forEach((l) => l()));

export interface Route {
  path: string;
  parts: string[];
  query: URLSearchParams;
}

export function currentRoute(): Route {
  const path = location.pathname;
  return { path, parts: path.split('/').filter(Boolean), query: new URLSearchParams(location.search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    listeners.add(update);
    return () => {
      listeners.delete(update);
    };
  }, []);
  return route;
}

// A link that moves within the page instead of loading it again (a modified click still opens a
// new tab, as links do).
export function onLink(event: MouseEvent) {
  const anchor = (event.currentTarget as HTMLAnchorElement) ?? null;
  if (!anchor || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(anchor.getAttribute('href') ?? '/');
}
