// English and Simplified Chinese. The choice is kept in the browser; the first visit follows
// the browser's language.
import { en } from './locales/en';
import { zhCN } from './locales/zh-CN';

export type Language = 'en' | 'zh-CN';
export type Key = keyof typeof en;

const dictionaries: Record<Language, Record<Key, string>> = { en, 'zh-CN': zhCN };
const storageKey = 'fleetdesk.language';

function initial(): Language {
  const saved = localStorage.getItem(storageKey);
  if (saved === 'en' || saved === 'zh-CN') return saved;
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

let current: Language = initial();
document.documentElement.lang = current;

export function language(): Language {
  return current;
}

export function setLanguage(next: Language) {
  current = next;
  localStorage.setItem(storageKey, next);
  document.documentElement.lang = next;
  window.dispatchEvent(new Event('fleetdesk:language'));
}

// The text of `key` in the current language with `{name}` filled from `params`. A key built
// from data (a state, a kind) that has no entry shows `fallback`, the data itself.
export function t(key: Key, params: Record<string, string | number> = {}, fallback?: string): string {
  const text = dictionaries[current][key] ?? (fallback !== undefined ? undefined : en[key]) ?? fallback ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ''));
}
