// The knowledge base's rules, apart from its screens: the phrasings field (one per line), the
// languages to filter by, the search, an import file's format, and an import's refusals as one
// line each for people.
import type { FieldError } from '../../api/protocol';
import type { components } from '../../api/schema';

export type Entry = components['schemas']['EntryView'];
export type FileFormat = 'csv' | 'json';

/** Languages offered first, in this order; others follow when entries use them. */
export const KNOWN_LANGUAGES = ['zh-CN', 'en'] as const;

/** What the api accepts as a language tag (api/src/bot/kb_file.rs `valid_language`). */
export const LANGUAGE_TAG = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

/** Most phrasings per entry; longest question or phrasing; longest answer (the api's limits). */
export const MAX_ALTERNATIVES = 20;
export const MAX_QUESTION = 500;
export const MAX_ANSWER = 4000;
/** Largest import file (the api refuses more with 413). */
export const MAX_IMPORT_BYTES = 5 * 1024 * 1024;

/** The phrasings typed one per line, trimmed, without blanks or repeats. */
export function phrasings(text: string | undefined): string[] {
  const seen = new Set<string>();
  for (const line of (text ?? '').split('\n')) {
    const trimmed = line.trim();
    if (trimmed) seen.add(trimmed);
  }
  return [...seen];
}

/** The languages to filter by: zh-CN and en, then the others entries use, sorted. */
export function languagesOf(entries: readonly Pick<Entry, 'language'>[]): string[] {
  const others = new Set(entries.map((e) => e.language).filter((l) => !(KNOWN_LANGUAGES as readonly string[]).includes(l)));
  return [...KNOWN_LANGUAGES, ...[...others].sort()];
}

/** Whether an entry has `query` in its question, a phrasing or its answer (any case). */
export function matches(entry: Pick<Entry, 'question' | 'alternatives' | 'answer'>, query: string): boolean {
  const q = query.trim().toLocaleLowerCase();
  if (!q) return true;
  return [entry.question, entry.answer, ...entry.alternatives].some((text) => text.toLocaleLowerCase().includes(q));
}

/** The import format a file's name says, if any. */
export function formatOf(name: string): FileFormat | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.json')) return 'json';
  return undefined;
}

/** One refusal of an import: its line (when the api named one), the entry's field, the reason. */
export interface LineError {
  line?: number;
  /** `language`, `question`, `alternatives`, `answer`, or none for the row or file as a whole. */
  field?: string;
  message: string;
}

/**
 * An import's field errors (`lines[3].question`, `lines[4].alternatives[1]`, `lines[7]`, `file`)
 * as lines for people, in line order; the api's "Line N: " prefix is left to the caller's words.
 */
export function lineErrors(fields: readonly FieldError[]): LineError[] {
  return fields
    .map((f): LineError => {
      const at = /^lines\[(\d+)\](?:\.([a-z_]+))?/.exec(f.field);
      const said = /^Line (\d+): /.exec(f.message);
      const line = at ? Number(at[1]) : said ? Number(said[1]) : undefined;
      const message = said ? f.message.slice(said[0].length) : f.message;
      return { line: line || undefined, field: at?.[2], message };
    })
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}
