// The console is a single-page app served by the api (`http.console_dir`) at `/`; in
// development the api serves the built files too, so there is one origin and no CORS.
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

/**
 * Ant Design's form context module (antd/es/form/context.js), which Input, Segmented, Tooltip and
 * others import for a context or two, also defines Form.Provider over @rc-component/form; that
 * one import put the whole form engine and async-validator (about 20 KiB gzip) in every member's
 * first download, though only the admin and settings pages have forms. This moves Form.Provider to
 * a module of its own, imported by antd's Form alone (docs/console.md, "Weight"). Each rewrite
 * checks the text it replaces, so an antd upgrade that changes it fails the build, not the app.
 */
function formProviderApart(): Plugin {
  const id = '\0antd-form-provider';
  // [file, what to find, what to put instead]; a string must be found verbatim, a pattern once.
  const rewrites: Array<[RegExp, string | RegExp, string]> = [
    [/node_modules\/antd\/es\/form\/context\.js$/, "import { FormProvider as RcFormProvider } from '@rc-component/form';\n", ''],
    [/node_modules\/antd\/es\/form\/context\.js$/, /^export const FormProvider = [^\n]*\n(?:[^\n]*\n)*?\};\n/m, ''],
    [/node_modules\/antd\/es\/form\/Form\.js$/, "import { FormContext, FormProvider, NoFormStyle, VariantContext } from './context';",
      "import { FormContext, NoFormStyle, VariantContext } from './context';\nimport { FormProvider } from 'virtual:antd-form-provider';"],
    [/node_modules\/antd\/es\/form\/index\.js$/, "import { FormProvider } from './context';", "import { FormProvider } from 'virtual:antd-form-provider';"],
  ];
  return {
    name: 'antd-form-provider-apart',
    enforce: 'pre',
    resolveId: (source) => (source === 'virtual:antd-form-provider' ? id : null),
    // Form.Provider is rc-form's provider without antd's `prefixCls` prop.
    load: (loaded) => (loaded === id
      ? [
        "import { createElement } from 'react';",
        "import { FormProvider as RcFormProvider } from '@rc-component/form';",
        'export const FormProvider = ({ prefixCls: _prefixCls, ...props }) => createElement(RcFormProvider, props);',
      ].join('\n')
      : null),
    transform(code, file) {
      let out = code;
      for (const [path, from, to] of rewrites) {
        if (!path.test(file)) continue;
        const found = typeof from === 'string' ? out.includes(from) : from.test(out);
        if (!found) this.error(`antd-form-provider-apart: ${file} no longer has the text it rewrites (antd upgraded?)`);
        out = out.replace(from, to);
      }
      return out === code ? null : { code: out, map: null };
    },
  };
}

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  plugins: [formProviderApart()],
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
