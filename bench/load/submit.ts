/** Phase 1: submission latency. */
import { sleep } from '../../test/support/stack.js';
import { rssMiB, submissions, type Submissions } from './measure.js';
import { CLIENTS, KEYS, SUBMIT_S } from './options.js';
import { newStack } from './stack.js';

export async function phaseSubmit(): Promise<Submissions & { stored: number; rss: { start: number; end: number } }> {
  const stack = await newStack();
  const pid = await stack.startApi();
  stack.startController();
  await sleep(2_000);
  await stack.ensureKeys(KEYS);
  // Warm-up (JIT, connection pools), not counted.
  await submissions(stack, { connections: 5, seconds: 3, seedFrom: 1_000_000 });
  const start = rssMiB(pid);
  const r = await submissions(stack, { connections: CLIENTS, seconds: SUBMIT_S, seedFrom: 1 });
  const end = rssMiB(pid);
  const stored = await stack.store.client.search.count();
  await stack.close();
  return { ...r, stored, rss: { start, end } };
}
