import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * Import boundaries (`no-restricted-imports`). A file matched by several blocks below gets the rule of the
 * last one, whose options replace (not extend) the earlier ones: each block lists every group it enforces.
 */

/** Only @ip2/db talks to Prisma; everyone else uses its repositories and re-exported types. */
const PRISMA = {
  paths: [{ name: 'prisma', message: 'Only @ip2/db imports Prisma.' }],
  patterns: [
    {
      group: ['@prisma/*', '**/generated/client', '**/generated/client.js'],
      message: 'Only @ip2/db imports Prisma (and its generated client): use its repositories and types.',
    },
  ],
};

const APP_NAMES = ['@ip2/api', '@ip2/cli', '@ip2/controller', '@ip2/worker', '@ip2/dashboard'];
/** Apps share code through packages (@ip2/contracts for wire shapes), never by importing one another. */
const APPS = {
  paths: APP_NAMES.map((name) => ({
    name,
    message: 'An app does not import another app: move what both need into a package (e.g. @ip2/contracts).',
  })),
  patterns: [],
};

/*
 * The science packages run unchanged inside a worker, the CLI's local mode and tests: no files, network,
 * database or queue. What they use today and may: node:worker_threads, node:os, node:url and node:module
 * (the threaded population of @ip2/snn), node:crypto (seeds and hashes), the TensorFlow.js backends and
 * webgpu (compute). @ip2/report only returns SVG and HTML strings; its callers write them.
 */
const SCIENCE = ['packages/snn', 'packages/tasks', 'packages/l2l', 'packages/search', 'packages/report'];
const io = (names, message) => names.flatMap((n) => [n, `node:${n}`]).map((name) => ({ name, message }));
const IO = {
  paths: [
    ...io(
      ['net', 'http', 'https', 'http2', 'dgram', 'dns', 'tls', 'child_process'],
      'Science packages do no I/O: the apps open connections and processes.',
    ),
    ...['pg', 'ioredis', 'bullmq', 'fastify', 'undici', '@ip2/db', '@ip2/testing'].map((name) => ({
      name,
      message: 'Science packages know nothing of HTTP, queues or databases.',
    })),
  ],
  patterns: [{ group: ['@fastify/*'], message: 'Science packages know nothing of HTTP.' }],
};
/** Files: forbidden in the science packages' sources; their tests may read fixtures. */
const FILES = {
  paths: io(['fs', 'fs/promises'], 'Science packages read and write no files: take and return values.'),
  patterns: [],
};

const restrict = (...groups) => [
  'error',
  { paths: groups.flatMap((g) => g.paths), patterns: groups.flatMap((g) => g.patterns) },
];

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'coverage/**',
      'results/**',
      'bench/**/*.py',
      'packages/db/src/generated/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    ignores: ['packages/db/**', 'prisma.config.ts'],
    rules: { 'no-restricted-imports': restrict(PRISMA) },
  },
  {
    files: ['apps/*/src/**'],
    rules: { 'no-restricted-imports': restrict(PRISMA, APPS) },
  },
  {
    files: SCIENCE.map((p) => `${p}/src/**`),
    rules: { 'no-restricted-imports': restrict(PRISMA, IO, FILES) },
  },
  {
    // The http entry of @ip2/contracts is bundled by the dashboard: browser-safe, no Node I/O.
    files: ['packages/contracts/src/http/**'],
    rules: { 'no-restricted-imports': restrict(PRISMA, IO, FILES) },
  },
  {
    files: SCIENCE.map((p) => `${p}/src/**/*.test.ts`),
    rules: { 'no-restricted-imports': restrict(PRISMA, IO) },
  },
  {
    // The apps parse the environment (IP2_ENGINE, IP2_TF_BACKEND, IP2_LOG, ...) and pass the choice in;
    // tests (*.test.ts, and *.gpu-test.ts run on machines with a GPU) may read it to pick what they test.
    files: SCIENCE.map((p) => `${p}/src/**`),
    ignores: ['**/*.test.ts', '**/*.gpu-test.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Science packages read no environment: take the value as an option; the apps parse the environment.',
        },
      ],
    },
  },
);
