/**
 * Runs of the learning-to-learn protocol on one thread: one after the other (trainChunk), and in
 * lock-step groups of P (trainChunks, LockstepGroup over a FusedPopulation), on the same chunks.
 * What is timed is the whole protocol (task batches, training, held-out evaluation, checkpoints),
 * as a search's worker thread runs it. The results of every mode are checked to be identical.
 *
 *   npm run bench:lockstep -- [--runs 16] [--hidden 100] [--tasks 2] [--cap 200] [--rounds 5] [--sizes 4,16]
 *
 * Every task trains to the cap (ε = 1e-9), so each mode does the same number of iterations:
 * runs × tasks × cap training iterations and runs × tasks held-out evaluations per round. Modes
 * are interleaved round by round; the table gives the median round.
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { PAPER_SPACE } from '@ip2/snn';
import { parseProtocol, trainChunk, trainChunks, type ChunkItem, type ChunkStep } from '../packages/l2l/src/index.js';
import { positiveFlag, upperMedian as median } from './stats.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '16' },
    hidden: { type: 'string', default: '100' },
    tasks: { type: 'string', default: '2' },
    cap: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    sizes: { type: 'string', default: '4,16' },
  },
  strict: true,
});
const positive = (name: string, raw: string, max: number) => positiveFlag('lockstep', name, raw, max);
const RUNS = positive('runs', values.runs, 256);
const HIDDEN = positive('hidden', values.hidden, 1024);
const TASKS = positive('tasks', values.tasks, 100);
const CAP = positive('cap', values.cap, 100_000);
const ROUNDS = positive('rounds', values.rounds, 100);
const SIZES = values.sizes.split(',').map((s) => positive('sizes', s, RUNS));

// Batch 1, the shape of the timings in docs/benchmarks.md (searches now train with the family's batch size).
const protocol = parseProtocol({
  tasks: TASKS,
  window: Math.min(50, CAP),
  epsilon: 1e-9,
  cap: CAP,
  batchSize: 1,
  evalBatch: 32,
});
const masks = [
  [],
  ['tauD'],
  ['theta'],
  ['tauD', 'theta'],
  ['tauS'],
  ['tauD', 'tauS'],
  ['tauS', 'theta'],
  [...PAPER_SPACE],
];
const items: ChunkItem[] = Array.from({ length: RUNS }, (_, i) => ({
  job: {
    family: 'sma',
    seed: i + 1,
    model: 'ip2',
    space: [...PAPER_SPACE],
    mask: masks[i % masks.length] as ChunkItem['job']['mask'],
    hidden: HIDDEN,
    lr: 3e-3,
    loss: 'mse',
    protocol,
    fromTask: 0,
    toTask: TASKS,
    engine: 'fused',
  },
  checkpoint: null,
}));

/** One round of a mode: every run's results (for the identity check) and the wall time. */
async function round(size: number): Promise<{ ms: number; results: string[] }> {
  const results: string[][] = items.map(() => []);
  const keep = (i: number, s: ChunkStep) => results[i]!.push(JSON.stringify({ ...s.result, wallMs: 0 }));
  const t0 = performance.now();
  if (size === 1) {
    for (const [i, it] of items.entries()) for await (const s of trainChunk(it.job, it.checkpoint)) keep(i, s);
  } else {
    for (let g = 0; g < RUNS; g += size) {
      for await (const { index, step } of trainChunks(items.slice(g, g + size))) keep(g + index, step);
    }
  }
  return { ms: performance.now() - t0, results: results.flat() };
}

const modes = [1, ...SIZES.filter((s) => s > 1)];
const times = new Map<number, number[]>(modes.map((m) => [m, []]));
let reference: string[] | null = null;
const load0 = loadavg()[0]!;
await round(modes[modes.length - 1]!); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const m of modes) {
    const { ms, results } = await round(m);
    reference ??= results;
    if (JSON.stringify(results) !== JSON.stringify(reference)) {
      throw new Error(`lock-step group of ${m} gave other results than one run at a time`);
    }
    times.get(m)!.push(ms);
  }
  process.stderr.write(`round ${r + 1}/${ROUNDS}\n`);
}
const iterations = RUNS * TASKS * CAP;
const base = median(times.get(1)!);
const lines = [
  `Machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, Node ${process.version}; load ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}.`,
  `Command: \`npm run bench:lockstep -- --runs ${RUNS} --hidden ${HIDDEN} --tasks ${TASKS} --cap ${CAP} --rounds ${ROUNDS} --sizes ${SIZES.join(',')}\``,
  `${RUNS} runs of sma (11 in, ${HIDDEN} neurons, 100 steps, batch 1), ${TASKS} tasks each, ${CAP} iterations per task, on one thread; results identical in every mode.`,
  '',
  '| runs trained | median s per round (min–max) | network-iterations/s | vs one at a time |',
  '|---|---|---|---|',
  ...modes.map((m) => {
    const t = times.get(m)!;
    const label = m === 1 ? 'one at a time (trainChunk)' : `lock-step groups of ${m} (trainChunks)`;
    return `| ${label} | ${(median(t) / 1000).toFixed(2)} (${(Math.min(...t) / 1000).toFixed(2)}–${(Math.max(...t) / 1000).toFixed(2)}) | ${Math.round(iterations / (median(t) / 1000))} | ${(base / median(t)).toFixed(2)}× |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
