import { initNetwork, Rng, type TrialBatch, PROPERTY_KEYS } from '../index.js';
import { FusedEngine, FusedPopulation } from './index.js';
function batchOf(T: number, B: number, nIn: number, nOut: number, seed: number, scale: number): TrialBatch {
  const rng = Rng.seeded(seed, 'b');
  const inputs = new Float32Array(T * B * nIn).map(() => scale * rng.normal());
  const targets = new Float32Array(T * B * nOut);
  const mask = new Float32Array(T * B).fill(1);
  return { steps: T, batch: B, nIn, nOut, inputs, targets, mask };
}
const P = +(process.argv[2] ?? 16);
const mode = process.argv[3] ?? 'all';
const states = Array.from({ length: P }, (_, p) => initNetwork({ nIn: 11, nRec: 100, nOut: 3, space: [...PROPERTY_KEYS], learnable: [...PROPERTY_KEYS], seed: p + 1 }));
const batch = batchOf(100, 1, 11, 3, 1, 1);
const pop = FusedPopulation.create(states);
const solo = states.map((s) => FusedEngine.create(s));
const one = FusedEngine.create(states[0]!);
for (let r = 0; r < 5; r++) { pop.trainStep(batch); for (const e of solo) e.trainStep(batch); one.trainStep(batch); }
for (let round = 0; round < 3; round++) {
  let tp = 0, ts = 0, t1 = 0;
  if (mode === 'all' || mode === 'pop') { const t0 = performance.now(); for (let r = 0; r < 20; r++) pop.trainStep(batch); tp = (performance.now() - t0) / 20 / P; }
  if (mode === 'all' || mode === 'sep') { const t0 = performance.now(); for (let r = 0; r < 20; r++) for (const e of solo) e.trainStep(batch); ts = (performance.now() - t0) / 20 / P; }
  if (mode === 'all' || mode === 'one') { const t0 = performance.now(); for (let r = 0; r < 20 * P; r++) one.trainStep(batch); t1 = (performance.now() - t0) / 20 / P; }
  console.log(`per network: population ${tp.toFixed(3)} ms, separate ${ts.toFixed(3)} ms, one engine repeated ${t1.toFixed(3)} ms`);
}
