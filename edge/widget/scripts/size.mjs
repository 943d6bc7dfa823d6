// The size budgets from the product brief, checked on the built files (gzip -9, as served):
// the loader ≤ 3 KB and the whole chat UI (loader + UI bundle) ≤ 30 KB. Prints the sizes and
// exits 1 when a budget is exceeded. The edge adds the tenant's config (~1 KB) to the loader.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const manifest = JSON.parse(readFileSync('dist/widget/manifest.json', 'utf8'));
const gz = (path) => gzipSync(readFileSync(`dist/${path}`), { level: 9 }).length;
const loader = gz(manifest.loader);
const ui = gz(manifest.ui);
const budgets = [
  ['loader', loader, 3 * 1024],
  ['whole UI (loader + chat)', loader + ui, 30 * 1024],
];
let ok = true;
for (const [name, size, budget] of budgets) {
  const pass = size <= budget;
  ok &&= pass;
  console.log(`${pass ? 'ok  ' : 'OVER'} ${name}: ${(size / 1024).toFixed(2)} KiB gzip (budget ${(budget / 1024).toFixed(0)} KiB)`);
}
process.exit(ok ? 0 : 1);
