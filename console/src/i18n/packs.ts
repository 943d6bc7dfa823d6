// Loading the console's words (docs/console.md, "Weight"). Per language, a core pack (pack-*.ts:
// the shell's, the inbox's and the signed-out pages' words, with Ant Design's texts), which main.tsx
// loads before the first render, and one pack per area, a group of lazily loaded pages
// (words.ts), which `withWords` loads together with the pages' module so that no page renders
// before its words. A page's area is loaded in the languages in use (the one shown, and the one
// being switched to), and a change of language (`loadLang`) waits for the new language's core pack
// and the packs of the areas already used; a language left is not loaded for new areas.
import type { Locale } from 'antd/es/locale';
import type { Area, Dict, Key, PackName } from './words';

export type Lang = 'en' | 'zh-CN';
export type Vars = Record<string, string | number>;

/** A language's core pack: the console's core words and Ant Design's own texts. */
export interface Pack {
  dict: Dict<'core'>;
  antd: Locale;
}

const CORE: Record<Lang, () => Promise<Pack>> = {
  en: () => import('./pack-en').then((m) => m.pack),
  'zh-CN': () => import('./pack-zh-CN').then((m) => m.pack),
};

/** Each area's pack in each language, a chunk of its own. */
const AREAS: { [A in Area]: Record<Lang, () => Promise<Dict<A>>> } = {
  admin: { en: () => import('./en/admin').then((m) => m.words), 'zh-CN': () => import('./zh-CN/admin').then((m) => m.words) },
  analytics: { en: () => import('./en/analytics').then((m) => m.words), 'zh-CN': () => import('./zh-CN/analytics').then((m) => m.words) },
  billing: { en: () => import('./en/billing').then((m) => m.words), 'zh-CN': () => import('./zh-CN/billing').then((m) => m.words) },
  queue: { en: () => import('./en/queue').then((m) => m.words), 'zh-CN': () => import('./zh-CN/queue').then((m) => m.words) },
  search: { en: () => import('./en/search').then((m) => m.words), 'zh-CN': () => import('./zh-CN/search').then((m) => m.words) },
  settings: { en: () => import('./en/settings').then((m) => m.words), 'zh-CN': () => import('./zh-CN/settings').then((m) => m.words) },
};

type Texts = Partial<Record<Key, string>>;

/** The words loaded so far, per language, all packs together. */
const texts: Record<Lang, Texts> = { en: {}, 'zh-CN': {} };
const antdTexts: Partial<Record<Lang, Locale>> = {};
const loaded: Record<Lang, Set<PackName>> = { en: new Set(), 'zh-CN': new Set() };
const loading = new Map<string, Promise<void>>();
/** The areas whose pages have been opened: a language switched to loads their packs too. */
const used = new Set<Area>();
/** The languages whose words are needed now: the one shown, and one being switched to. */
const inUse = new Set<Lang>();

function fetchPack(lang: Lang, name: PackName): Promise<Texts> {
  if (name === 'core') {
    return CORE[lang]().then((pack) => {
      antdTexts[lang] = pack.antd;
      return pack.dict;
    });
  }
  const load: () => Promise<Texts> = AREAS[name][lang];
  return load();
}

/** Loads one pack (once; a failed load is tried again on the next call). */
function loadPack(lang: Lang, name: PackName): Promise<void> {
  if (loaded[lang].has(name)) return Promise.resolve();
  const id = `${lang}/${name}`;
  let pending = loading.get(id);
  if (!pending) {
    pending = fetchPack(lang, name).then(
      (dict) => {
        Object.assign(texts[lang], dict);
        loaded[lang].add(name);
        loading.delete(id);
      },
      (error: unknown) => {
        loading.delete(id);
        throw error;
      },
    );
    loading.set(id, pending);
  }
  return pending;
}

/** Whether `lang`'s core pack has arrived. */
export function hasLang(lang: Lang): boolean {
  return loaded[lang].has('core');
}

/** Loads a language, from now on in use: its core pack and the packs of the areas used so far. */
export function loadLang(lang: Lang): Promise<void> {
  inUse.add(lang);
  return Promise.all([loadPack(lang, 'core'), ...[...used].map((area) => loadPack(lang, area))]).then(() => undefined);
}

/** `lang` is the language shown from now on: the areas opened next are loaded in it alone. */
export function settleLang(lang: Lang): void {
  inUse.clear();
  inUse.add(lang);
}

/** Loads the packs of `areas` in the languages in use, and remembers them as used. */
export function loadAreas(areas: readonly Area[]): Promise<void> {
  for (const area of areas) used.add(area);
  return Promise.all([...inUse].flatMap((lang) => areas.map((area) => loadPack(lang, area)))).then(() => undefined);
}

/**
 * A lazily loaded module of pages that use the words of `areas`, resolved once both the module and
 * those words have arrived: `lazy(() => withWords(['admin'], import('./pages/admin/teams')))`.
 */
export function withWords<T>(areas: readonly Area[], module: Promise<T>): Promise<T> {
  return Promise.all([module, loadAreas(areas)]).then(([loadedModule]) => loadedModule);
}

/** Ant Design's texts in `lang`, once its core pack has arrived. */
export function antdLocale(lang: Lang): Locale | undefined {
  return antdTexts[lang];
}

/** Whether `key` is a key of the packs loaded so far (for keys built from an api's codes). */
export function isKey(key: string): key is Key {
  return Object.hasOwn(texts.en, key) || Object.hasOwn(texts['zh-CN'], key);
}

/** Translates `key`, filling `{name}` placeholders from `vars`. */
export function translate(lang: Lang, key: Key, vars?: Vars): string {
  const text = texts[lang][key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}
