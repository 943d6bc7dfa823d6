// Languages of the console (F34): English and Simplified Chinese, complete (the zh-CN dictionary
// must have every English key, or `tsc` fails). The choice is per member (kept per user id in this
// browser), defaulting to the browser's language; Ant Design's own texts follow it.
// Each language is a pack (pack-*.ts) loaded on demand, so that a member downloads one dictionary:
// main.tsx loads the member's before the first render, and a change of language shows the new
// one as soon as its pack has arrived (docs/console.md, "Weight").
import type { Locale } from 'antd/es/locale';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { Key } from './en';

export type Lang = 'en' | 'zh-CN';
export const LANGS: ReadonlyArray<{ lang: Lang; label: string }> = [
  { lang: 'en', label: 'English' },
  { lang: 'zh-CN', label: '简体中文' },
];

/** A language's texts: the console's and Ant Design's. */
export interface Pack {
  dict: Record<Key, string>;
  antd: Locale;
}

const LOADERS: Record<Lang, () => Promise<Pack>> = {
  en: () => import('./pack-en').then((m) => m.pack),
  'zh-CN': () => import('./pack-zh-CN').then((m) => m.pack),
};
const PACKS: Partial<Record<Lang, Pack>> = {};
const loading: Partial<Record<Lang, Promise<Pack>>> = {};

/** Loads a language's pack (once; a failed load is tried again on the next call). */
export function loadLang(lang: Lang): Promise<Pack> {
  const loaded = PACKS[lang];
  if (loaded) return Promise.resolve(loaded);
  loading[lang] ??= LOADERS[lang]().then(
    (pack) => (PACKS[lang] = pack),
    (error: unknown) => {
      delete loading[lang];
      throw error;
    },
  );
  return loading[lang];
}

/** The pack of `lang` if it has been loaded. */
export function loadedPack(lang: Lang): Pack | undefined {
  return PACKS[lang];
}

/** Whether `key` is a key of the dictionaries (every pack has the same keys). */
export function isKey(key: string): key is Key {
  const dict = PACKS.en?.dict ?? PACKS['zh-CN']?.dict;
  return dict !== undefined && key in dict;
}

export type Vars = Record<string, string | number>;

/** Translates `key`, filling `{name}` placeholders from `vars`. */
export function translate(lang: Lang, key: Key, vars?: Vars): string {
  const text = PACKS[lang]?.dict[key] ?? key;
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
  /** Ant Design's texts in `lang`. */
  antd: Locale | undefined;
  setLang(lang: Lang): void;
  t(key: Key, vars?: Vars): string;
}

const Context = createContext<I18n | null>(null);

export function I18nProvider({ userId, children }: { userId: string | undefined; children: ReactNode }) {
  const [chosen, setChosen] = useState<{ userId: string | undefined; lang: Lang }>(() => ({ userId, lang: storedLang(userId) }));
  const wanted = chosen.userId === userId ? chosen.lang : storedLang(userId);
  // Until the wanted pack has arrived, the texts stay in a language that has one.
  const [, arrived] = useState(0);
  const other: Lang = wanted === 'en' ? 'zh-CN' : 'en';
  const lang = !PACKS[wanted] && PACKS[other] ? other : wanted;
  useEffect(() => {
    if (!PACKS[wanted]) loadLang(wanted).then(() => arrived((n) => n + 1), () => undefined);
  }, [wanted]);
  const setLang = useCallback(
    (next: Lang) => {
      localStorage.setItem(storageKey(userId), next);
      localStorage.setItem(storageKey(undefined), next);
      setChosen({ userId, lang: next });
    },
    [userId],
  );
  const value = useMemo<I18n>(() => ({ lang, antd: PACKS[lang]?.antd, setLang, t: (key, vars) => translate(lang, key, vars) }), [lang, setLang, PACKS[lang]]);
  document.documentElement.lang = lang;
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(Context);
  if (!value) throw new Error('useI18n outside I18nProvider');
  return value;
}

export type { Key };
