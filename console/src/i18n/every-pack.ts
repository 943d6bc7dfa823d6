// Every pack of words in both languages, imported statically: for the tests only (packs.test.ts,
// usage.test.ts); the console loads the packs on demand (packs.ts). A new area must be added here,
// or `tsc` fails.
import { words as enAdmin } from './en/admin';
import { words as enAnalytics } from './en/analytics';
import { words as enBilling } from './en/billing';
import { words as enCore } from './en/core';
import { words as enQueue } from './en/queue';
import { words as enSearch } from './en/search';
import { words as enSettings } from './en/settings';
import type { Dict, PackName } from './words';
import { words as zhAdmin } from './zh-CN/admin';
import { words as zhAnalytics } from './zh-CN/analytics';
import { words as zhBilling } from './zh-CN/billing';
import { words as zhCore } from './zh-CN/core';
import { words as zhQueue } from './zh-CN/queue';
import { words as zhSearch } from './zh-CN/search';
import { words as zhSettings } from './zh-CN/settings';

export const EVERY_PACK: { [P in PackName]: { en: Dict<P>; 'zh-CN': Dict<P> } } = {
  core: { en: enCore, 'zh-CN': zhCore },
  admin: { en: enAdmin, 'zh-CN': zhAdmin },
  analytics: { en: enAnalytics, 'zh-CN': zhAnalytics },
  billing: { en: enBilling, 'zh-CN': zhBilling },
  queue: { en: enQueue, 'zh-CN': zhQueue },
  search: { en: enSearch, 'zh-CN': zhSearch },
  settings: { en: enSettings, 'zh-CN': zhSettings },
};

/** The packs' names, core first. */
export const PACK_NAMES = Object.keys(EVERY_PACK).filter((name): name is PackName => name in EVERY_PACK);
