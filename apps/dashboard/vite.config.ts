import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * The dashboard is a static bundle served by apps/api under /dashboard/ (relative asset paths, so it
 * works under any prefix). The search form validates with @ip2/search's definition schema itself: its
 * module is bundled from source, with @ip2/snn narrowed to the property keys and model versions it needs (src/snn.ts: no engine code).
 */
export default defineConfig({
  root: here('.'),
  base: './',
  resolve: {
    alias: { '@ip2/snn': here('src/snn.ts') },
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
