// Who is signed in, and what they may do (GET /api/v1/session lists it): the dashboard offers
// an action only when the caller has its permission.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, setCsrfToken, type Session } from './api';
import { startLive, stopLive } from './live';

let session: Session | null = null;
let checked = false;
const listeners = new Set<() => void>();

function set(next: Session | null) {
  session = next;
  checked = true;
  setCsrfToken(next?.csrfToken ?? '');
  if (next) startLive();
  else stopLive();
  listeners.forEach((l) => l());
}

export async function loadSession() {
  try {
    set(await api.get<Session>('/api/v1/session'));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) set(null);
    else throw e;
  }
}

export async function signIn(name: string, password: string) {
  set(await api.post<Session>('/api/v1/session', { name, password }));
}

export async function signOut() {
  try {
    await api.del('/api/v1/session');
  } finally {
    set(null);
  }
}

export function signedOut() {
  if (session) set(null);
}

export function can(permission: string): boolean {
  return session?.permissions?.includes(permission) ?? false;
}

export function useSession(): { session: Session | null; checked: boolean } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((t) => t + 1);
    listeners.add(update);
    return () => {
      listeners.delete(update);
    };
  }, []);
  return { session, checked };
}
