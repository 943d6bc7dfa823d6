// The shape of the console's words, for the type checker only: the core pack and each area's pack
// (the English dictionaries, en/*.ts, are the reference), their keys, and what a translation of one
// must be. Nothing here is in a chunk: every import is of types.
import type { words as admin } from './en/admin';
import type { words as analytics } from './en/analytics';
import type { words as billing } from './en/billing';
import type { words as core } from './en/core';
import type { words as queue } from './en/queue';
import type { words as search } from './en/search';
import type { words as settings } from './en/settings';

/** The English words of each pack. */
interface English {
  core: typeof core;
  admin: typeof admin;
  analytics: typeof analytics;
  billing: typeof billing;
  queue: typeof queue;
  search: typeof search;
  settings: typeof settings;
}

/** A pack of words: the core one, or an area's. */
export type PackName = keyof English;
/** A group of lazily loaded pages with a pack of its own, loaded with them. */
export type Area = Exclude<PackName, 'core'>;
/** Every key of every pack (keys are unique across packs: i18n/packs.test.ts). */
export type Key = { [P in PackName]: keyof English[P] }[PackName];
/** A translation of pack `P`: exactly its keys, each with a text. */
export type Dict<P extends PackName> = Record<keyof English[P], string>;
