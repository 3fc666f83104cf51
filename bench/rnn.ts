/**
 * ms per training iteration of the `rnn` baseline on the `sma` configuration, TensorFlow.js against
 * the fused engine: the same network (same seed) on the same training batches of one sma instance.
 * The engines are interleaved round by round after warm-up; the median and quartiles are reported.
 *
 *   npm run bench:rnn [-- --hidden 100 --dt 20 --rounds 15]
 */
import { parseArgs } from 'node:util';
import { createLearner, type Learner } from '@ip2/l2l';
import { createInstance, trainingBatch } from '@ip2/tasks';

const { values } = parseArgs({
  options: {
    hidden: { type: 'string', default: '100' },
    dt: { type: 'string', default: '20' },
    batch: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '15' },
  },
});
const hidden = Number(values.hidden);
const dt = Number(values.dt);
const batchSize = Number(values.batch);
const rounds = Number(values.rounds);

const instance = createInstance('sma', 1, 0);
const batches = Array.from({ length: 16 }, (_, i) => trainingBatch(instance, 1, i, batchSize, dt));
const spec = {
  model: 'rnn',
  nIn: instance.nIn,
  nOut: instance.nOut,
  hidden,
  dt,
  seed: 1,
  loss: 'mse' as const,
  lr: 1e-3,
};

const engines = ['tfjs', 'fused'] as const;
const learners: Record<string, Learner> = {};
for (const engine of engines) learners[engine] = await createLearner(spec, { engine });
// Iterations per round: enough for a few ms of work each.
const perRound: Record<string, number> = { tfjs: 3, fused: 30 };
const samples: Record<string, number[]> = { tfjs: [], fused: [] };
let k = 0;
for (const engine of engines) for (let i = 0; i < 3; i++) learners[engine]!.trainStep(batches[k++ % 16]!);
for (let r = 0; r < rounds; r++) {
  for (const engine of engines) {
    const l = learners[engine]!;
    const n = perRound[engine]!;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) l.trainStep(batches[(r * n + i) % 16]!);
    samples[engine]!.push((performance.now() - t0) / n);
  }
}
const q = (a: number[], p: number) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
};
const steps = batches[0]!.steps;
console.log(
  `rnn on sma: ${hidden} units, ${instance.nIn} in, ${instance.nOut} out, ${steps} steps (dt ${dt} ms), batch ${batchSize}`,
);
console.log('| engine | median ms/iteration (q1–q3) | vs fused |');
console.log('|---|---|---|');
const fusedMedian = q(samples.fused!, 0.5);
for (const engine of engines) {
  const a = samples[engine]!;
  const info = learners[engine]!.info;
  console.log(
    `| ${info.engine}/${info.backend} | ${q(a, 0.5).toFixed(3)} (${q(a, 0.25).toFixed(3)}–${q(a, 0.75).toFixed(3)}) | ${(q(a, 0.5) / fusedMedian).toFixed(1)}× |`,
  );
}
for (const l of Object.values(learners)) l.dispose();
