import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The library: the core and each optional integration as its own subpath export.
    entry: {
      index: 'src/index.ts',
      express: 'src/integrations/express.ts',
      session: 'src/integrations/session.ts',
      prometheus: 'src/integrations/prometheus.ts',
      stash: 'src/stash/stash.ts',
    },
    format: ['esm', 'cjs'],
    // import.meta.url in the CommonJS build (store URLs resolve their adapter package with createRequire).
    shims: true,
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: false,
    // Integrations and the stash import the core through its public entry, so the core is not bundled twice.
    external: ['synced-cache'],
  },
  {
    // The command-line tool: ESM only, with a shebang.
    entry: { cli: 'src/cli/index.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    splitting: false,
    external: ['synced-cache'],
    banner: { js: '#!/usr/bin/env node' },
  },
]);
