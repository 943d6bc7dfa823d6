// The packs of words: each complete in both languages (tsc checks the keys; this checks the texts
// and their placeholders too), and no key in two packs (the loaded packs share one dictionary per
// language, so a key in two would show whichever arrived last).
import { describe, expect, it } from 'vitest';
import { EVERY_PACK, PACK_NAMES } from './every-pack';

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('packs of words', () => {
  for (const name of PACK_NAMES) {
    it(`${name}: Chinese has a non-empty text for every English one, with the same placeholders`, () => {
      const en: Record<string, string> = EVERY_PACK[name].en;
      const zh: Record<string, string> = EVERY_PACK[name]['zh-CN'];
      expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
      for (const [key, text] of Object.entries(en)) {
        expect(zh[key], key).toBeTruthy();
        expect(placeholders(zh[key] ?? ''), key).toEqual(placeholders(text));
      }
    });
  }

  it('has each key in one pack only', () => {
    const seen = new Map<string, string>();
    for (const name of PACK_NAMES) {
      for (const key of Object.keys(EVERY_PACK[name].en)) {
        expect(seen.get(key), `${key} is in ${seen.get(key)} and ${name}`).toBeUndefined();
        seen.set(key, name);
      }
    }
  });
});
