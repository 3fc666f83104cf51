import { defineConfig } from 'vitest/config';

/**
 * Two projects, both run by `npm test`:
 * - `unit`: the science and the pure code (packages, the CLI's local mode, the dashboard's modules); no
 *   service needed. `npm test -- --project unit`.
 * - `service`: the apps' services, the data layer, the end-to-end, browser and fault tests; they use the
 *   PostgreSQL and Redis on 127.0.0.1 (each file its own database and queue prefix) and start processes.
 *   `npm test -- --project service`.
 */
const SERVICE = [
  'apps/api/src/**/*.test.ts',
  'apps/controller/src/**/*.test.ts',
  'apps/worker/src/**/*.test.ts',
  'apps/cli/src/server/**/*.test.ts',
  'packages/db/src/**/*.test.ts',
  'packages/testing/src/**/*.test.ts',
  'test/**/*.test.ts',
];

/** What every project shares: the source conditions and the test defaults. */
export const shared = {
  resolve: { conditions: ['@ip2/source'] },
  ssr: { resolve: { conditions: ['@ip2/source'] } },
  test: {
    env: { IP2_LOG: 'silent' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks' as const,
  },
};

export default defineConfig({
  ...shared,
  test: {
    ...shared.test,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts'],
          exclude: SERVICE,
          // Vitest's default is one worker fewer than the cores (one on 2 cores); these files are
          // independent computations, so they take every core.
          maxWorkers: '100%',
          // Projects with different worker counts run one after the other: unit first.
          sequence: { groupOrder: 0 },
        },
      },
      // One file at a time (Vitest's default on 2 cores): the fault tests start stacks of processes
      // and time their faults against heartbeats and reapers, sized for a machine of their own.
      { extends: true, test: { name: 'service', include: SERVICE, sequence: { groupOrder: 1 } } },
    ],
  },
});
