// Languages of the console (F34): English and Simplified Chinese, complete (the zh-CN dictionary
// must have every English key, or `tsc` fails). The choice is per member (kept per user id in this
// browser), defaulting to the browser's language; Ant Design's own texts follow it.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { en, type Key } from './en';
import { zhCN } from './zh-CN';

export type Lang = 'en' | 'zh-CN';
export const LANGS: ReadonlyArray<{ lang: Lang; label: string }> = [
  { lang: 'en', label: 'English' },
  { lang: 'zh-CN', label: '简体中文' },
];

const DICTIONARIES: Record<Lang, Record<Key, string>> = { en, 'zh-CN': zhCN };

export type Vars = Record<string, string | number>;

/** Translates `key`, filling `{name}` placeholders from `vars`. */
export function translate(lang: Lang, key: Key, vars?: Vars): string {
  const text = DICTIONARIES[lang][key];
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

export function browserLang(languages: readonly string[] = navigator.languages): Lang {
  for (const l of languages) {
    const lower = l.toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

function storageKey(userId: string | undefined): string {
  return userId ? `kefu.lang.${userId}` : 'kefu.lang';
}

export function storedLang(userId: string | undefined): Lang {
  const stored = localStorage.getItem(storageKey(userId)) ?? localStorage.getItem(storageKey(undefined));
  return stored === 'en' || stored === 'zh-CN' ? stored : browserLang();
}

interface I18n {
  lang: Lang;
  setLang(lang: Lang): void;
  t(key: Key, vars?: Vars): string;
}

const Context = createContext<I18n | null>(null);

export function I18nProvider({ userId, children }: { userId: string | undefined; children: ReactNode }) {
  const [chosen, setChosen] = useState<{ userId: string | undefined; lang: Lang }>(() => ({ userId, lang: storedLang(userId) }));
  const lang = chosen.userId === userId ? chosen.lang : storedLang(userId);
  const setLang = useCallback(
    (next: Lang) => {
      localStorage.setItem(storageKey(userId), next);
      localStorage.setItem(storageKey(undefined), next);
      setChosen({ userId, lang: next });
    },
    [userId],
  );
  const value = useMemo<I18n>(() => ({ lang, setLang, t: (key, vars) => translate(lang, key, vars) }), [lang, setLang]);
  document.documentElement.lang = lang;
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(Context);
  if (!value) throw new Error('useI18n outside I18nProvider');
  return value;
}

export type { Key };
