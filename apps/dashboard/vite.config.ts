import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * The dashboard is a static bundle served by apps/api under /dashboard/ (relative asset paths, so it
 * works under any prefix). The API's schemas and views (@ip2/contracts/http) and the search definition
 * schema the search form validates with (@ip2/search/definition) are bundled from source, with @ip2/snn
 * narrowed to the property keys and model versions they need (src/snn.ts: no engine code).
 */
export default defineConfig({
  root: here('.'),
  base: './',
  resolve: {
    alias: {
      '@ip2/snn': here('src/snn.ts'),
      '@ip2/contracts/http': here('../../packages/contracts/src/http/index.ts'),
      '@ip2/search/definition': here('../../packages/search/src/definition.ts'),
    },
  },
  // `npm run dev -w @ip2/dashboard`: the sources with reload, the API calls sent on to a running api.
  server: { proxy: { '/v1': process.env.IP2_API_URL ?? 'http://127.0.0.1:3000' } },
  build: {
    outDir: here('dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1000,
  },
});
