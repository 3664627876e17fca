// The dashboard is an API client and nothing more: every call goes through here, with the
// session cookie and, for changes, the session's CSRF token.

export interface ErrorDetail {
  line?: number;
  field?: string;
  message?: string;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: ErrorDetail[] = [],
  ) {
    super(message);
  }
}

let csrfToken = '';
let onSignedOut: () => void = () => {};

export function setCsrfToken(token: string) {
  csrfToken = token;
}

// Called when a request answers 401: the session ended (timed out, signed out elsewhere).
export function whenSignedOut(handler: () => void) {
  onSignedOut = handler;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '' || value === false) continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function call<T>(method: string, path: string, body?: unknown, raw?: BodyInit, type?: string): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let payload: BodyInit | undefined;
  if (raw !== undefined) {
    payload = raw;
    headers['Content-Type'] = type ?? 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: any = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!response.ok) {
    const error = data?.error;
    if (response.status === 401 && path !== '/api/v1/session') onSignedOut();
    throw new ApiError(
      response.status,
      error?.code ?? 'error',
      error?.message ?? `${response.status} ${response.statusText}`,
      Array.isArray(error?.details) ? error.details : [],
    );
  }
  return (data ?? text) as T;
}

export const api = {
  get: <T>(path: string, query?: Query) => call<T>('GET', withQuery(path, query)),
  post: <T>(path: string, body?: unknown) => call<T>('POST', path, body ?? {}),
  patch: <T>(path: string, body: unknown) => call<T>('PATCH', path, body),
  put: <T>(path: string, body: unknown) => call<T>('PUT', path, body),
  del: <T>(path: string) => call<T>('DELETE', path),
  upload: <T>(path: string, data: BodyInit, type: string) => call<T>('POST', path, undefined, data, type),
};

// The shapes the API answers (docs/API.md), as far as the dashboard reads them. int64 fields
// come as strings in protobuf's JSON mapping.
export interface User {
  id: string;
  name: string;
  role: string;
  disabled?: boolean;
  createdAt?: string;
}

export interface Session {
  user: User;
  via: string;
  csrfToken?: string;
  permissions?: string[];
}

export interface Host {
  id: string;
  agentId?: string;
  hostname: string;
  os?: { name?: string; version?: string; prettyName?: string; kernel?: string; architecture?: string };
  agentVersion?: string;
  connected?: boolean;
  uptimeSeconds?: string;
  load1?: number;
  status: string;
  serial?: string;
  owner?: string;
  location?: string;
  environment?: string;
  role?: string;
  criticality?: string;
  notes?: string;
  tags?: string[];
  lastSeen?: string;
  firstSeen?: string;
  inventory?: any[];
  services?: Service[];
  checks?: Check[];
  metrics?: any;
}

export interface Service {
  unit: string;
  description?: string;
  activeState?: string;
  subState?: string;
  stateChangeTime?: string;
}

export interface Check {
  key?: string;
  name?: string;
  kind?: string;
  target?: string;
  up?: boolean;
  latencyMs?: number;
  message?: string;
  checkedAt?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface Ticket {
  id: string;
  kind: string;
  title: string;
  description?: string;
  state: string;
  category?: string;
  impact?: string;
  urgency?: string;
  priority: number;
  priorityReason?: string;
  hostId?: string;
  hostname?: string;
  sourceKind?: string;
  subject?: string;
  occurrences?: number;
  flapping?: boolean;
  group?: string;
  assigneeId?: string;
  assignee?: string;
  requester?: string;
  sla?: {
    paused?: boolean;
    responseDue?: string;
    resolutionDue?: string;
    responseBreachedAt?: string;
    resolutionBreachedAt?: string;
  };
  worklogCount?: string;
  actions?: string[];
  createdAt?: string;
  updatedAt?: string;
  lastSeen?: string;
}

export interface TimelineEntry {
  id: string;
  at: string;
  kind: string;
  subject?: string;
  oldValue?: string;
  newValue?: string;
  actor?: string;
}

export interface Note {
  id: string;
  at: string;
  author: string;
  internal?: boolean;
  body: string;
}

export interface WorklogEntry {
  id: string;
  at: string;
  task?: string;
  note: string;
  author?: string;
}

export interface TaskCounts {
  queued: number;
  sent: number;
  running: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  cancelled: number;
  refused: number;
  total: number;
}

export interface TaskHost {
  hostId: string;
  hostname?: string;
  state: string;
  exitCode?: number;
  message?: string;
  stdout?: string;
  stderr?: string;
  durationMs?: string;
  batch?: number;
}

export interface Task {
  id: string;
  kind: string;
  selector?: string;
  state: string;
  stopReason?: string;
  createdBy?: string;
  createdAt?: string;
  finishedAt?: string;
  counts?: TaskCounts;
  hosts?: TaskHost[];
  nextCursor?: string;
}

export interface SearchHit {
  kind: string;
  ref: string;
  title: string;
  detail?: string;
  hostId?: string;
  hostCount?: string;
  snippet?: string;
}
