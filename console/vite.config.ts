// The console is a single-page app served by the api (`http.console_dir`) at `/`; in
// development the api serves the built files too, so there is one origin and no CORS.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: true,
    // scripts/size.mjs reads which chunks the first page loads from the manifest.
    manifest: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      // Ant Design's "use client" directives mean nothing outside React Server Components.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE' || warning.code === 'SOURCEMAP_ERROR') return;
        warn(warning);
      },
      // Chunks follow the pages' lazy imports (shell.tsx): what only an admin page or the search
      // page uses is downloaded when it is first opened. React and the router, which every page
      // needs and which change least, are a chunk of their own so they stay cached across releases.
      output: {
        manualChunks: (id) => (/node_modules\/(react|react-dom|scheduler|react-router)\//.test(id) ? 'react' : undefined),
      },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
