// Small pieces every view uses: loading data, its states (loading, empty, failed), times,
// badges.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import { language, setLanguage, t, type Key, type Language } from './i18n';
import { onLink } from './router';

export interface Async<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

// Runs `load` now and whenever `deps` change; a reload keeps the data shown until the new
// answer arrives, so a live update does not flash the view.
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setLoading(true);
    load().then(
      (value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (e) => {
        if (mine !== generation.current) return;
        setError(errorText(e));
        setLoading(false);
      },
    );
  }, deps);
  useEffect(() => {
    setData(undefined);
    run();
  }, [run]);
  return { data, error, loading, reload: run };
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    // A CSV import's refusal lists each row's problem with its line.
    const lines = e.details.filter((d) => d.message).map((d) => (d.line ? `${d.line}: ${d.message}` : d.message));
    return [e.message, ...lines].join('\n');
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

export function Loading() {
  return (
    <p class="muted" role="status">
      {t('loading')}
    </p>
  );
}

export function ErrorBox({ message, onRetry }: { message: string; onRetry?: () => void }) {
  return (
    <div class="error" role="alert">
      <span>{message}</span>
      {onRetry && (
        <button type="button" class="link" onClick={onRetry}>
          {t('retry')}
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

// Shows what an Async holds: loading, an error with a retry, or the content.
export function Loaded<T>({ state, children }: { state: Async<T>; children: (data: T) => ComponentChildren }) {
  if (state.data !== undefined) return <>{children(state.data)}</>;
  if (state.error) return <ErrorBox message={state.error} onRetry={state.reload} />;
  return <Loading />;
}

export function Link({ href, children, class: className }: { href: string; children: ComponentChildren; class?: string }) {
  return (
    <a href={href} class={className} onClick={onLink}>
      {children}
    </a>
  );
}

function locale() {
  return language() === 'zh-CN' ? 'zh-CN' : 'en-GB';
}

export function formatTime(iso?: string): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleString(locale(), { dateStyle: 'medium', timeStyle: 'short' });
}

export function relativeTime(iso?: string, now = Date.now()): string {
  if (!iso) return '';
  const at = new Date(iso).getTime();
  if (Number.isNaN(at)) return '';
  const seconds = Math.round((at - now) / 1000);
  const format = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 60) return format.format(seconds, 'second');
  if (abs < 3600) return format.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return format.format(Math.round(seconds / 3600), 'hour');
  return format.format(Math.round(seconds / 86400), 'day');
}

export function Time({ at }: { at?: string }) {
  if (!at) return <span class="muted">—</span>;
  return (
    <time dateTime={at} title={formatTime(at)}>
      {relativeTime(at)}
    </time>
  );
}

export function formatNumber(value: number | string | undefined): string {
  if (value === undefined) return '';
  return Number(value).toLocaleString(locale());
}

export function formatBytes(value: number | string | undefined): string {
  const n = Number(value ?? 0);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toLocaleString(locale(), { maximumFractionDigits: v < 10 && i > 0 ? 1 : 0 })} ${units[i]}`;
}

export function StateBadge({ state }: { state: string }) {
  const key = `state.${state}` as Key;
  return <span class={`badge state-${state}`}>{t(key, {}, state)}</span>;
}

export function PriorityBadge({ priority }: { priority: number }) {
  return (
    <span class={`badge p${priority}`} title={t('priority')}>
      P{priority}
    </span>
  );
}

export function HostStatus({ status }: { status: string }) {
  const key = `host.${status}` as Key;
  return <span class={`badge host-${status}`}>{t(key, {}, status)}</span>;
}

export function PageTitle({ children, actions }: { children: ComponentChildren; actions?: ComponentChildren }) {
  useEffect(() => {
    if (typeof children === 'string') document.title = `${children} · fleetdesk`;
  }, [children]);
  return (
    <div class="page-title">
      <h1>{children}</h1>
      {actions && <div class="actions">{actions}</div>}
    </div>
  );
}

export function LanguageSelect() {
  return (
    <select aria-label={t('language')} value={language()} onChange={(e) => setLanguage((e.target as HTMLSelectElement).value as Language)}>
      <option value="en">English</option>
      <option value="zh-CN">简体中文</option>
    </select>
  );
}

// The two buttons that end an edit form: submit to save, or drop the edit.
export function SaveCancel({ onCancel }: { onCancel: () => void }) {
  return (
    <div class="buttons">
      <button type="submit" class="primary">
        {t('save')}
      </button>
      <button type="button" onClick={onCancel}>
        {t('cancel')}
      </button>
    </div>
  );
}
