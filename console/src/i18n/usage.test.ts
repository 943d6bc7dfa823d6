// Every key a source file names is in a pack loaded before that file's words can show: the core
// pack for what main.tsx reaches by static imports and plain `import()`s, and in addition the
// areas of every `withWords([...], import('...'))` on the way (i18n/packs.ts). Reads the sources
// as text: imports, quoted keys ('inbox.title'), and keys built in a template (`presence.${c}`,
// which needs every key starting `presence.`). A key kept in a variable between files is checked
// where it is written down, which is where it must be available, or earlier.
import { describe, expect, it } from 'vitest';
import { EVERY_PACK, PACK_NAMES } from './every-pack';
import type { PackName } from './words';

const SOURCES = import.meta.glob<string>(['/src/**/*.ts', '/src/**/*.tsx', '!/src/**/*.test.ts', '!/src/**/*.d.ts'], {
  query: '?raw',
  import: 'default',
  eager: true,
});

/** Which pack each key is in. */
const PACK_OF = new Map<string, PackName>(PACK_NAMES.flatMap((name) => Object.keys(EVERY_PACK[name].en).map((key): [string, PackName] => [key, name])));
const isPackName = (name: string): name is PackName => PACK_NAMES.some((n) => n === name);

/** The source file `spec` names from `from`, if it is one of ours. */
function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const parts = from.split('/').slice(0, -1);
  for (const part of spec.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.') parts.push(part);
  }
  const path = parts.join('/');
  return [path, `${path}.ts`, `${path}.tsx`, `${path}/index.ts`, `${path}/index.tsx`].find((candidate) => candidate in SOURCES);
}

interface Parsed {
  imports: string[];
  /** Imported for their types only. */
  types: string[];
  lazy: Array<{ file: string; areas: PackName[] }>;
  keys: string[];
}

function parse(file: string): Parsed {
  const source = SOURCES[file] ?? '';
  const imports = [...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?'([^']+)'/gm)]
    .map((m) => resolve(file, m[1] ?? ''))
    .filter((f): f is string => f !== undefined);
  const types = [...source.matchAll(/^\s*(?:import|export)\s+type\s(?:[^'";]*?\sfrom\s+)?'([^']+)'/gm)]
    .map((m) => resolve(file, m[1] ?? ''))
    .filter((f): f is string => f !== undefined);
  const lazy = [...source.matchAll(/import\('([^']+)'\)/g)].flatMap((m) => {
    const imported = resolve(file, m[1] ?? '');
    if (!imported) return [];
    const gate = /withWords\(\[([^\]]*)\],\s*$/.exec(source.slice(0, m.index));
    const areas = [...(gate?.[1] ?? '').matchAll(/'([^']+)'/g)].map((a) => a[1] ?? '').filter(isPackName);
    return [{ file: imported, areas }];
  });
  const quoted = [...source.matchAll(/['"`]([a-zA-Z][\w-]*(?:\.[\w-]+)+)['"`]/g)].map((m) => m[1] ?? '').filter((k) => PACK_OF.has(k));
  const prefixes = [...source.matchAll(/`([a-zA-Z][\w-]*\.[\w.-]*)\$\{/g)].map((m) => m[1] ?? '');
  const built = prefixes.flatMap((prefix) => [...PACK_OF.keys()].filter((key) => key.startsWith(prefix)));
  return { imports, types, lazy, keys: [...new Set([...quoted, ...built])] };
}

/** Walks the console from main.tsx; returns the files reached and each key used where its pack is not loaded. */
function walk(): { reached: Set<string>; missing: string[] } {
  const reached = new Set<string>();
  const missing: string[] = [];
  const visited = new Set<string>();
  const visit = (file: string, loaded: ReadonlySet<PackName>) => {
    const id = `${file} ${[...loaded].sort().join(',')}`;
    if (visited.has(id)) return;
    visited.add(id);
    reached.add(file);
    // The packs themselves are loaded through packs.ts, not as pages.
    if (file.startsWith('/src/i18n/')) return;
    const { imports, types, lazy, keys } = parse(file);
    for (const typed of types) reached.add(typed);
    for (const key of keys) {
      const pack = PACK_OF.get(key);
      if (pack && !loaded.has(pack)) missing.push(`${file}: '${key}' is in the ${pack} pack, not loaded there (loaded: ${[...loaded].join(', ')})`);
    }
    for (const imported of imports) visit(imported, loaded);
    for (const { file: imported, areas } of lazy) visit(imported, new Set([...loaded, ...areas]));
  };
  visit('/src/main.tsx', new Set(['core']));
  return { reached, missing };
}

describe('the keys the console uses', () => {
  const { reached, missing } = walk();

  it('reaches every source file from main.tsx (or this check reads the imports wrong)', () => {
    expect(Object.keys(SOURCES).filter((file) => !reached.has(file) && !file.startsWith('/src/i18n/'))).toEqual([]);
  });

  it('are each in a pack loaded before the file that names it shows', () => {
    expect(missing).toEqual([]);
  });
});
