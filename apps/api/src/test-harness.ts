import { randomBytes } from 'node:crypto';
import { openStore, type SearchRecord, type Store } from '@ip2/db';
import { createTestDatabase, type TestDatabase } from '@ip2/testing';
import type { FastifyInstance } from 'fastify';
import { buildApp, type BuildAppOptions } from './app.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Harness {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly db: TestDatabase;
  /** Bearer keys of two owners, 'alice' and 'bob'. */
  readonly alice: string;
  readonly bob: string;
  /** Searches passed to onSearchCreated. */
  readonly started: SearchRecord[];
  close(): Promise<void>;
}

/** A fresh migrated database, real Redis, the app over them, and a key for each of two owners. */
export async function createHarness(options: Partial<BuildAppOptions> = {}): Promise<Harness> {
  const db = await createTestDatabase();
  const store = openStore({ url: db.url, poolSize: 4 });
  const started: SearchRecord[] = [];
  const app = await buildApp({
    store,
    redisUrl: REDIS_URL,
    queuePrefix: `ip2-api-test-${randomBytes(4).toString('hex')}`,
    logger: false,
    onSearchCreated: async (s) => {
      started.push(s);
    },
    eventsPollMs: 50,
    eventsGraceMs: 0,
    ...options,
  });
  const alice = (await store.apiKeys.create('alice', 'test')).key;
  const bob = (await store.apiKeys.create('bob', 'test')).key;
  return {
    app,
    store,
    db,
    alice,
    bob,
    started,
    async close() {
      await app.close();
      await store.close();
      await db.drop();
    },
  };
}

/** Another app over an existing store (own queue prefix, no logs, nothing started), for a variant of the options. */
export function buildVariant(store: Store, options: Partial<BuildAppOptions> = {}): Promise<FastifyInstance> {
  return buildApp({
    store,
    redisUrl: REDIS_URL,
    queuePrefix: `ip2-api-test-${randomBytes(4).toString('hex')}`,
    logger: false,
    onSearchCreated: async () => undefined,
    ...options,
  });
}

export const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/**
 * A small valid search definition, without a validation stage (the API's tests write a search's results by
 * hand: the search's own runs are all there is to write); `extra` may add one.
 */
export function smallSearch(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    family: 'sma',
    space: ['tauD', 'theta'],
    protocol: { tasks: 4, seeds: 2, iterationCap: 200, criterion: { window: 10 }, network: { hidden: 16 } },
    validation: { seeds: 0 },
    ...extra,
  };
}

/** Rows of the tables a submission writes. */
export interface RowCounts {
  readonly searches: number;
  readonly candidates: number;
  readonly runs: number;
  readonly results: number;
}

export async function rowCounts(store: Store): Promise<RowCounts> {
  const [searches, candidates, runs, results] = await Promise.all([
    store.client.search.count(),
    store.client.candidate.count(),
    store.client.run.count(),
    store.client.taskResult.count(),
  ]);
  return { searches, candidates, runs, results };
}

/** Writes task results [from, to) of a run as a worker would (claim, record, release to WAITING). */
export async function recordResults(store: Store, runId: string, from: number, to: number): Promise<void> {
  const claim = await store.runs.claim(runId, { workerId: 'test-worker', host: 'test' });
  if (claim === null) throw new Error(`could not claim run ${runId}`);
  const results = Array.from({ length: to - from }, (_, i) => ({
    taskIndex: from + i,
    iterations: 100 - from - i,
    trialsToCriterion: 2 * (100 - from - i),
    batchSize: 2,
    totalIterations: 150 - from - i,
    converged: true,
    failure: null,
    finalLoss: 0.004,
    accuracy: 0.9,
    heldOutLoss: 0.01,
    firingRate: 0.25,
    activeNeurons: 30,
    neurons: 40,
    fractionSilent: 0.25,
    wallMs: 30,
  }));
  await store.runs.recordTasks(runId, claim.claimToken, results, null);
  await store.runs.release(runId, claim.claimToken, 'WAITING');
}

/** One Server-Sent Event of a progress stream, as parsed by parseSse. */
export interface Sse {
  readonly id?: string;
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** The events of an SSE body (those with data), in order. */
export function parseSse(text: string): Sse[] {
  const out: Sse[] = [];
  for (const block of text.split('\n\n')) {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) out.push({ ...(id === undefined ? {} : { id }), event, data: JSON.parse(data.join('\n')) });
  }
  return out;
}
