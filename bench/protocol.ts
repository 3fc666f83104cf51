/**
 * The whole learning-to-learn protocol against the bare engine, per model, in one run:
 *
 *   npm run bench:protocol -- [--models ip2,rsnn-noip,rnn,lstm,gru,attn-h1] [--family sma] [--hidden 100]
 *                             [--batch 1,balanced] [--tasks 2] [--cap 500] [--rounds 5]
 *
 * - bare: the run's learner (createRunLearner, the same network a run trains) takes `tasks × cap`
 *   training steps on one fixed batch: the engine's forward, backward and optimiser step alone.
 * - protocol: `trainChunk` on the same run (ε = 1e-9, so every task trains to the cap): a task instance
 *   and a new batch per iteration, the per-task optimiser reset, the convergence bookkeeping, the
 *   held-out evaluation, the intrinsic statistics and the checkpoint after each task, and the learner's
 *   creation at the start.
 *
 * Both do `tasks × cap` training iterations of the same shape; modes are interleaved round by round
 * and the table gives each one's median round and the ratio of protocol to bare network-iterations/s
 * (the target: at least 0.8). `balanced` is the family's number of conditions (SCIENCE.md §6).
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { PAPER_SPACE, type PropertyKey } from '@ip2/snn';
import { createInstance, trainingBatch } from '@ip2/tasks';
import {
  createRunLearner,
  familyBatchSize,
  modelNames,
  parseProtocol,
  runSeeds,
  trainChunk,
  type ChunkJob,
} from '../packages/l2l/src/index.js';
import { positiveFlag, upperMedian as median } from './stats.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'ip2,rsnn-noip,rnn,lstm,gru,attn-h1' },
    family: { type: 'string', default: 'sma' },
    hidden: { type: 'string', default: '100' },
    batch: { type: 'string', default: '1,balanced' },
    tasks: { type: 'string', default: '2' },
    cap: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '5' },
  },
  strict: true,
});
const positive = (name: string, raw: string, max: number) => positiveFlag('protocol', name, raw, max);
const HIDDEN = positive('hidden', values.hidden, 1024);
const TASKS = positive('tasks', values.tasks, 100);
const CAP = positive('cap', values.cap, 100_000);
const ROUNDS = positive('rounds', values.rounds, 100);
const FAMILY = values.family;
const MODELS = values.models.split(',').map((m) => m.trim());
for (const m of MODELS) {
  if (!modelNames().includes(m)) {
    process.stderr.write(`bench:protocol: --models: unknown model '${m}'; valid: ${modelNames().join(', ')}\n`);
    process.exit(2);
  }
}
let balanced: number;
try {
  balanced = familyBatchSize(FAMILY);
} catch (e) {
  process.stderr.write(`bench:protocol: --family: ${(e as Error).message}\n`);
  process.exit(2);
}
const BATCHES = [
  ...new Set(
    values.batch.split(',').map((b) => (b.trim() === 'balanced' ? balanced : positive('batch', b.trim(), 1024))),
  ),
];

const MASK: PropertyKey[] = ['tauS', 'theta'];
const ITERATIONS = TASKS * CAP;

function job(model: string, batchSize: number): ChunkJob {
  return {
    family: FAMILY,
    seed: 1,
    model,
    space: [...PAPER_SPACE],
    mask: model === 'ip2' ? MASK : [],
    hidden: HIDDEN,
    lr: 3e-3,
    loss: 'mse',
    protocol: parseProtocol({
      tasks: TASKS,
      window: Math.min(50, CAP),
      epsilon: 1e-9,
      cap: CAP,
      batchSize,
      evalBatch: 32,
    }),
    fromTask: 0,
    toTask: TASKS,
  };
}

/** The engine alone: tasks × cap steps on one batch of the run's first task. */
async function bare(j: ChunkJob): Promise<number> {
  const learner = await createRunLearner({ ...j, dt: j.protocol.dt });
  try {
    const batch = trainingBatch(
      createInstance(j.family, runSeeds(j.seed).tasks, 0),
      runSeeds(j.seed).tasks,
      0,
      j.protocol.batchSize ?? balanced,
      j.protocol.dt,
    );
    learner.startTask();
    const t0 = performance.now();
    for (let i = 0; i < ITERATIONS; i++) learner.trainStep(batch);
    return performance.now() - t0;
  } finally {
    learner.dispose();
  }
}

/** The whole protocol: the run from nothing, every task trained to the cap. */
async function protocol(j: ChunkJob): Promise<number> {
  const t0 = performance.now();
  let iterations = 0;
  for await (const s of trainChunk(j, null)) iterations += s.result.totalIterations;
  if (iterations !== ITERATIONS) throw new Error(`${j.model}: ${iterations} iterations, expected ${ITERATIONS}`);
  return performance.now() - t0;
}

const load0 = loadavg()[0]!;
const cells = MODELS.flatMap((model) =>
  BATCHES.map((b) => ({ model, batch: b, j: job(model, b), bare: [] as number[], protocol: [] as number[] })),
);
for (const c of cells) {
  await bare(c.j); // warm-up
  await protocol(c.j);
}
for (let r = 0; r < ROUNDS; r++) {
  for (const c of cells) {
    c.bare.push(await bare(c.j));
    c.protocol.push(await protocol(c.j));
  }
  process.stderr.write(`round ${r + 1}/${ROUNDS}\n`);
}
const rate = (ms: number[]) => ITERATIONS / (median(ms) / 1000);
const lines = [
  `Machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, Node ${process.version}; load ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}.`,
  `Command: \`npm run bench:protocol -- --models ${MODELS.join(',')} --family ${FAMILY} --hidden ${HIDDEN} --batch ${values.batch} --tasks ${TASKS} --cap ${CAP} --rounds ${ROUNDS}\``,
  `${FAMILY}, ${HIDDEN} hidden units, ${TASKS} tasks × ${CAP} iterations per round, one thread, fused engines; median of ${ROUNDS} interleaved rounds. ip2 learns [${MASK.join(', ')}].`,
  '',
  '| model | batch | bare engine: ms/iteration | protocol: ms/iteration | network-iterations/s (bare → protocol) | protocol / bare |',
  '|---|---|---|---|---|---|',
  ...cells.map(
    (c) =>
      `| ${c.model} | ${c.batch} | ${(median(c.bare) / ITERATIONS).toFixed(3)} | ${(median(c.protocol) / ITERATIONS).toFixed(3)} | ${Math.round(rate(c.bare))} → ${Math.round(rate(c.protocol))} | ${(rate(c.protocol) / rate(c.bare)).toFixed(2)} |`,
  ),
];
process.stdout.write(`${lines.join('\n')}\n`);
