import { createPopulation, initNetwork, PAPER_SPACE, PROPERTY_KEYS } from '@ip2/snn';
import { createInstance } from '@ip2/tasks';
import { describe, expect, it } from 'vitest';
import {
  lockstepGroups,
  lockstepMemberBytes,
  trainChunk,
  trainChunks,
  type ChunkItem,
  type ChunkJob,
  type ChunkStep,
} from './chunk.js';
import { LockstepGroup } from './lockstep.js';
import { parseProtocol, runSequence, type TaskResult } from './protocol.js';

const protocol = parseProtocol({ tasks: 4, window: 5, epsilon: 0.08, cap: 60, evalBatch: 4 });

const job = (over: Partial<ChunkJob>): ChunkJob => ({
  family: 'sma',
  seed: 1,
  model: 'ip2',
  space: [...PAPER_SPACE],
  mask: ['tauD', 'theta'],
  hidden: 12,
  lr: 5e-3,
  loss: 'mse',
  protocol,
  fromTask: 0,
  toTask: 4,
  ...over,
});

/** A result without its wall time (the only field that may differ between two trainings). */
const numbers = (r: TaskResult) => ({ ...r, wallMs: 0 });

async function alone(item: ChunkItem): Promise<ChunkStep[]> {
  const out: ChunkStep[] = [];
  for await (const s of trainChunk(item.job, item.checkpoint)) out.push(s);
  return out;
}

describe('trainChunks (lock-step populations)', () => {
  it('gives every chunk exactly what trainChunk gives it alone, whatever it trains beside', async () => {
    // A resumed chunk: the checkpoint after task 1 of another run.
    const first = await alone({ job: job({ seed: 9, toTask: 2 }), checkpoint: null });
    const items: ChunkItem[] = [
      { job: job({ seed: 1 }), checkpoint: null },
      { job: job({ seed: 2, mask: [] }), checkpoint: null },
      { job: job({ seed: 3, model: 'ip-inner', space: [...PROPERTY_KEYS] }), checkpoint: null },
      { job: job({ seed: 4, model: 'rnn' }), checkpoint: null },
      { job: job({ seed: 5, hidden: 10 }), checkpoint: null },
      { job: job({ seed: 9, fromTask: 2 }), checkpoint: first[1]!.checkpoint },
      { job: job({ seed: 6, loss: 'xent', family: 'dms' }), checkpoint: null },
      { job: job({ seed: 7, family: 'dms', mask: ['tauS'] }), checkpoint: null },
    ];
    const together: ChunkStep[][] = items.map(() => []);
    for await (const { index, step } of trainChunks(items)) together[index]!.push(step);
    for (const [i, item] of items.entries()) {
      const expected = await alone(item);
      expect(together[i]!.length, `chunk ${i}`).toBe(expected.length);
      for (const [k, s] of expected.entries()) {
        const got = together[i]![k]!;
        expect(numbers(got.result), `chunk ${i} task ${s.result.taskIndex}`).toEqual(numbers(s.result));
        expect(got.checkpoint, `chunk ${i} checkpoint ${k}`).toEqual(s.checkpoint);
        expect(got.engine).toEqual(s.engine);
      }
    }
    // The spiking chunks trained to convergence on some tasks and to the cap on others.
    const all = together.flat().map((s) => s.result);
    expect(all.some((r) => r.converged)).toBe(true);
    expect(all.some((r) => r.failure === 'cap')).toBe(true);
  }, 120_000);

  it('groups chunks of the same size, in groups whose trajectories fit the memory budget', () => {
    const a = job({});
    // sma: 100 steps at dt 20; the evaluation batch (4 trials) is the largest pass.
    expect(lockstepMemberBytes(a)).toBe(10 * 101 * 4 * 12 * 4);
    const m = (key: string, j: ChunkJob = a) => ({ key, job: j });
    const list = [m('x'), null, m('y'), m('x'), m('x'), m('y'), m('z'), m('x'), m('x')];
    expect(lockstepGroups(list)).toEqual([
      [0, 3, 4, 7, 8],
      [2, 5],
    ]);
    // Room for two members per group: the fifth 'x' trains alone.
    expect(lockstepGroups(list, 2 * lockstepMemberBytes(a) + 1)).toEqual([
      [0, 3],
      [4, 7],
      [2, 5],
    ]);
    expect(lockstepGroups(list, 1)).toEqual([]);
    // The largest member sets the size: a bigger evaluation batch in one chunk.
    const big = job({ protocol: { ...protocol, evalBatch: 64 } });
    expect(lockstepGroups([m('x'), m('x', big), m('x')], 3 * lockstepMemberBytes(a))).toEqual([]);
  });

  it('advances its members together: one population pass serves several runs', async () => {
    const { nIn, nOut } = createInstance('sma', 0, 0);
    const states = [1, 2, 3].map((seed) =>
      initNetwork({ nIn, nRec: 12, nOut, seed, space: [...PAPER_SPACE], learnable: ['theta'] }),
    );
    const group = new LockstepGroup(await createPopulation(states), states, ['ip2', 'ip2', 'ip2']);
    expect(group.info).toEqual({ engine: 'fused', backend: 'wasm-simd' });
    const p = parseProtocol({ tasks: 2, window: 5, epsilon: 1e-9, cap: 30, evalBatch: 4 });
    await Promise.all(
      states.map(async (_, m) => {
        const learner = group.member(m);
        try {
          for await (const s of runSequence({ family: 'sma', seed: m + 1, protocol: p, learner })) {
            expect(s.result.totalIterations).toBe(30);
          }
        } finally {
          await learner.dispose();
        }
      }),
    );
    // 3 runs × 2 tasks × (30 training passes + 1 evaluation), three members per pass.
    expect(group.memberPasses).toBe(3 * 2 * 31);
    expect(group.passes).toBe(2 * 31);
  });

  it('stops every chunk when the caller stops early, and when the signal aborts', async () => {
    const items = [1, 2, 3].map((seed) => ({
      job: job({ seed, protocol: { ...protocol, cap: 2000, epsilon: 1e-9 } }),
      checkpoint: null,
    }));
    let got = 0;
    const started = Date.now();
    for await (const _ of trainChunks(items)) {
      got++;
      break;
    }
    expect(got).toBe(1);
    // The other runs were mid-task (2 000 iterations to go): they stopped at their next iteration.
    expect(Date.now() - started).toBeLessThan(60_000);
    const ac = new AbortController();
    const run = (async () => {
      for await (const _ of trainChunks(items, { signal: ac.signal })) ac.abort();
    })();
    await expect(run).rejects.toThrow(/aborted/);
  }, 120_000);
});
