// Live updates: one EventSource on /api/v1/events for the whole page. Views subscribe to the
// kinds of change they show and read their data again through the API when one arrives.
import { useEffect, useRef, useState } from 'preact/hooks';

export type LiveKind = 'host' | 'ticket' | 'task' | 'reset';
export interface LiveEvent {
  id: string;
  kind: string;
  subject: string;
  value: string;
  at: string;
}
export type LiveState = 'connecting' | 'live' | 'offline';

let source: EventSource | null = null;
let state: LiveState = 'offline';
const stateListeners = new Set<(s: LiveState) => void>();
const subscribers = new Set<{ kinds: LiveKind[]; handler: (kind: LiveKind, event: LiveEvent | null) => void }>();

function setState(next: LiveState) {
  state = next;
  stateListeners.forEach((l) => l(next));
}

function dispatch(kind: LiveKind, event: LiveEvent | null) {
  subscribers.forEach((s) => {
    if (s.kinds.includes(kind) || kind === 'reset') s.handler(kind, event);
  });
}

export function startLive() {
  if (source) return;
  setState('connecting');
  source = new EventSource('/api/v1/events');
  source.onopen = () => setState('live');
  // EventSource reconnects by itself (the server says after 3 s); until then it is offline.
  source.onerror = () => setState(source?.readyState === EventSource.CLOSED ? 'offline' : 'connecting');
  for (const kind of ['host', 'ticket', 'task', 'reset'] as LiveKind[]) {
    source.addEventListener(kind, (e) => {
      let data: LiveEvent | null = null;
      try {
        data = JSON.parse((e as MessageEvent).data);
      } catch {
        data = null;
      }
      dispatch(kind, data);
    });
  }
}

export function stopLive() {
  source?.close();
  source = null;
  setState('offline');
}

export function useLiveState(): LiveState {
  const [value, setValue] = useState(state);
  useEffect(() => {
    stateListeners.add(setValue);
    return () => {
      stateListeners.delete(setValue);
    };
  }, []);
  return value;
}

// Calls `handler` for each change of the given kinds (and after a reset), coalesced: a burst of
// changes makes one call per `delayMs`.
export function useLive(kinds: LiveKind[], handler: (event: LiveEvent | null) => void, delayMs = 300) {
  const current = useRef(handler);
  current.current = handler;
  useEffect(() => {
    let timer: number | undefined;
    let last: LiveEvent | null = null;
    const subscriber = {
      kinds,
      handler: (_kind: LiveKind, event: LiveEvent | null) => {
        last = event;
        if (timer !== undefined) return;
        timer = window.setTimeout(() => {
          timer = undefined;
          current.current(last);
        }, delayMs);
      },
    };
    subscribers.add(subscriber);
    return () => {
      subscribers.delete(subscriber);
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [kinds.join(','), delayMs]);
}
