import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@ip2/source'] },
  ssr: { resolve: { conditions: ['@ip2/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    env: { IP2_LOG: 'silent' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
