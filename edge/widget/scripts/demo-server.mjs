// Serves the demo shop page (demo/index.html) on its own origin, with the snippet pointing at an
// edge and a site key: `node scripts/demo-server.mjs --port 8788 --edge http://127.0.0.1:8787
// --site-key site_…`. make dev runs it; the browser tests use `startDemo` from here.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const template = readFileSync(new URL('../demo/index.html', import.meta.url), 'utf8');

/**
 * Starts the demo server. `variants` maps extra paths to markup inserted before `</head>` (the
 * browser tests serve a page with hostile CSS at `/hostile`).
 */
export function startDemo({ port = 0, host = '127.0.0.1', edge, siteKey, variants = {} }) {
  const page = (extraHead = '') =>
    template
      .replaceAll('__EDGE_URL__', edge.replace(/\/$/, ''))
      .replaceAll('__SITE_KEY__', siteKey)
      .replace('</head>', `${extraHead}</head>`);
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/' || path === '/index.html' || path.startsWith('/shop/') || Object.hasOwn(variants, path)) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page(variants[path]));
    } else if (path === '/favicon.ico') {
      res.writeHead(204);
      res.end();
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = Object.fromEntries(
    process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
  );
  if (!args.edge || !args['site-key']) {
    console.error('usage: demo-server.mjs --port 8788 --edge http://127.0.0.1:8787 --site-key site_…');
    process.exit(2);
  }
  const server = await startDemo({ port: Number(args.port || 8788), host: args.host || '127.0.0.1', edge: args.edge, siteKey: args['site-key'] });
  console.error(`demo shop on http://${server.address().address}:${server.address().port}/`);
}
