// The console's weight budget (issue 15): the JavaScript a member downloads before the inbox
// shows, gzip -9, as served: the entry chunk and everything it imports statically, plus what the
// entry loads on demand before the first render (the core pack of the member's language; the
// larger pack counts, since a member downloads exactly one). Every other page is a lazily loaded
// chunk, and so is each area's pack of words (src/i18n/<lang>/<area>.ts, loaded with its pages):
// they are listed apart, not counted, and each must stay a chunk of its own.
// Prints each chunk of the first load and exits 1 over budget.
// The goal is 250 KiB; the enforced budget is a ratchet that only comes down as the inbox sheds
// weight (docs/console.md, "Weight"): it was 426 KiB before pages were split, 315 KiB before
// the language packs and the inbox's controls were split, 245 KiB before the packs were split
// into core and areas.
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const BUDGET = 239 * 1024;
const GOAL = 250 * 1024;
/** Loaded on demand, but before the inbox is usable: one of each group is downloaded. */
const BEFORE_FIRST_PAINT = [['src/i18n/pack-en.ts', 'src/i18n/pack-zh-CN.ts']];
/** The areas' packs of words, per language (core.ts is in the core pack above). */
const LANGS = ['en', 'zh-CN'];
const AREA_PACKS = LANGS.flatMap((lang) => readdirSync(`src/i18n/${lang}`)
  .filter((file) => file.endsWith('.ts') && file !== 'core.ts')
  .map((file) => `src/i18n/${lang}/${file}`));

const manifest = JSON.parse(readFileSync('dist/.vite/manifest.json', 'utf8'));
const entry = Object.keys(manifest).find((key) => manifest[key].isEntry);
if (!entry) {
  console.error('no entry chunk in dist/.vite/manifest.json');
  process.exit(1);
}
const gzipped = new Map();
const sizeOf = (key) => {
  if (!gzipped.has(key)) gzipped.set(key, gzipSync(readFileSync(`dist/${manifest[key].file}`), { level: 9 }).length);
  return gzipped.get(key);
};
/** `key` and its static imports that are not in `seen`. */
const closure = (key, seen, into = new Set()) => {
  if (seen.has(key) || into.has(key)) return into;
  if (!manifest[key]) {
    console.error(`${key} is not a chunk of the build (scripts/size.mjs is out of date)`);
    process.exit(1);
  }
  into.add(key);
  for (const imported of manifest[key].imports ?? []) closure(imported, seen, into);
  return into;
};
const total = (keys) => [...keys].reduce((sum, key) => sum + sizeOf(key), 0);

const firstLoad = closure(entry, new Set());
const print = (key, note = '') => console.log(`     ${manifest[key].file}: ${(sizeOf(key) / 1024).toFixed(1)} KiB gzip${note}`);
for (const key of firstLoad) print(key);
for (const group of BEFORE_FIRST_PAINT) {
  const options = group.map((key) => ({ key, chunks: closure(key, firstLoad) }));
  options.sort((a, b) => total(b.chunks) - total(a.chunks));
  for (const { key, chunks } of options) {
    const counted = options[0].key === key;
    for (const chunk of chunks) print(chunk, ` (${key}${counted ? ', counted: the larger of its group' : ', not counted: the smaller of its group'})`);
  }
  for (const chunk of options[0].chunks) firstLoad.add(chunk);
}
const areas = new Map();
for (const key of AREA_PACKS) {
  if (!manifest[key]?.isDynamicEntry || firstLoad.has(key)) {
    console.error(`${key} is not a lazily loaded chunk of its own (an area's words are loaded with its pages: i18n/packs.ts)`);
    process.exit(1);
  }
  const area = key.replace(/^.*\//, '').replace(/\.ts$/, '');
  areas.set(area, [...(areas.get(area) ?? []), `${key.split('/')[2]} ${(sizeOf(key) / 1024).toFixed(1)}`]);
}
console.log(`     not counted, loaded with their pages: the areas' packs of words (KiB gzip): ${[...areas].map(([area, sizes]) => `${area} ${sizes.join(', ')}`).join('; ')}`);
const sum = total(firstLoad);
const lazy = Object.values(manifest).filter((chunk) => chunk.isDynamicEntry).length;
const pass = sum <= BUDGET;
console.log(`${pass ? 'ok  ' : 'OVER'} first load (inbox): ${(sum / 1024).toFixed(1)} KiB gzip of JavaScript (budget ${BUDGET / 1024} KiB, goal ${GOAL / 1024} KiB); ${lazy} chunks load on demand`);
process.exit(pass ? 0 : 1);
