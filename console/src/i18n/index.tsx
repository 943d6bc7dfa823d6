// Languages of the console (F34): English and Simplified Chinese, complete (the zh-CN dictionaries
// must have every English key, pack by pack, or `tsc` fails). The choice is per member (kept per
// user id in this browser), defaulting to the browser's language; Ant Design's own texts follow it.
// The words are packs loaded on demand (packs.ts), so that a member downloads one language and,
// before the inbox shows, only its core pack: main.tsx loads that before the first render, each
// lazily loaded page's area pack comes with the page (`withWords` in shell.tsx), and a change of
// language shows the new one once its core pack and the areas already used have arrived
// (docs/console.md, "Weight"; a new string goes in en/ and zh-CN/, in core or its page's area).
import type { Locale } from 'antd/es/locale';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { antdLocale, hasLang, loadLang, settleLang, translate, type Lang, type Vars } from './packs';
import type { Key } from './words';

export { isKey, loadAreas, loadLang, translate, withWords, type Lang, type Pack, type Vars } from './packs';
export type { Area, Key } from './words';

export const LANGS: ReadonlyArray<{ lang: Lang; label: string }> = [
  { lang: 'en', label: 'English' },
  { lang: 'zh-CN', label: '简体中文' },
];

export function browserLang(languages: readonly string[] = navigator.languages): Lang {
  for (const l of languages) {
    const lower = l.toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

function other(lang: Lang): Lang {
  return lang === 'en' ? 'zh-CN' : 'en';
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
  // Until the wanted language has arrived (its core pack and the areas used), the texts stay in
  // the one shown. A new object each time, so that a pack that arrives late (its first load
  // failed) is shown too.
  const [shown, setShown] = useState<{ lang: Lang }>(() => ({ lang: hasLang(wanted) || !hasLang(other(wanted)) ? wanted : other(wanted) }));
  useEffect(() => {
    let current = true;
    loadLang(wanted).then(() => {
      if (!current) return;
      settleLang(wanted);
      setShown({ lang: wanted });
    }, () => undefined);
    return () => {
      current = false;
    };
  }, [wanted]);
  const setLang = useCallback(
    (next: Lang) => {
      localStorage.setItem(storageKey(userId), next);
      localStorage.setItem(storageKey(undefined), next);
      setChosen({ userId, lang: next });
    },
    [userId],
  );
  // `t` changes with the language (and once its core pack has arrived) only: pages load their
  // data again when it does. An area's words arrive before its pages show, so need no new `t`.
  const { lang } = shown;
  const arrived = hasLang(lang);
  const value = useMemo<I18n>(
    () => ({ lang, antd: antdLocale(lang), setLang, t: (key, vars) => translate(lang, key, vars) }),
    [lang, arrived, setLang],
  );
  document.documentElement.lang = lang;
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(Context);
  if (!value) throw new Error('useI18n outside I18nProvider');
  return value;
}

