// Builds the widget into dist/widget/: the chat UI as ui-<hash>.js (immutable: its name changes
// with its content), then the loader as loader.js with the UI's name compiled in. The edge serves
// both (`GET /w/{site_key}.js` is the tenant's config followed by loader.js).
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'vite';

const out = 'dist/widget';
rmSync('dist', { recursive: true, force: true });

const common = (entry, name, fileName, define = {}) => ({
  configFile: false,
  logLevel: 'warn',
  define,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact', legalComments: 'none' },
  build: {
    outDir: out,
    emptyOutDir: false,
    target: 'es2020',
    minify: 'esbuild',
    sourcemap: false,
    reportCompressedSize: false,
    lib: { entry, name, formats: ['iife'], fileName: () => fileName },
  },
});

await build(common('src/ui/main.tsx', 'KefuUI', 'ui.js'));
const ui = readFileSync(`${out}/ui.js`);
const uiName = `ui-${createHash('sha256').update(ui).digest('hex').slice(0, 12)}.js`;
renameSync(`${out}/ui.js`, `${out}/${uiName}`);

await build(common('src/loader.ts', 'KefuLoader', 'loader.js', { __KEFU_UI__: JSON.stringify(`widget/${uiName}`) }));

const loaderHash = createHash('sha256').update(readFileSync(`${out}/loader.js`)).digest('hex').slice(0, 12);
const manifest = { loader: 'widget/loader.js', loader_hash: loaderHash, ui: `widget/${uiName}` };
writeFileSync(`${out}/manifest.json`, JSON.stringify(manifest, null, 2) + '\n');
// Cloudflare static assets (the worker's ASSETS binding) read their headers from _headers.
writeFileSync(
  'dist/_headers',
  `/widget/ui-*\n  Cache-Control: public, max-age=31536000, immutable\n  X-Content-Type-Options: nosniff\n` +
    `/widget/loader.js\n  Cache-Control: no-store\n/widget/manifest.json\n  Cache-Control: no-store\n`,
);
console.log(`widget: built ${out}/loader.js and ${out}/${uiName}`);
