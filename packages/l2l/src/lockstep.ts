import {
  FusedPopulation,
  serializeState,
  type EngineInfo,
  type Evaluation,
  type NetworkState,
  type StepStats,
  type TrialBatch,
} from '@ip2/snn';
import type { LearnerEvaluation, LearnerStep, SequenceLearner } from './learner.js';
import { intrinsicOf } from './models/spiking.js';

type Pass =
  | { readonly kind: 'train'; readonly resolve: (s: StepStats) => void }
  | { readonly kind: 'eval'; readonly resolve: (e: Evaluation) => void };

interface Request {
  readonly member: number;
  readonly batch: TrialBatch;
  readonly pass: Pass;
  readonly reject: (e: Error) => void;
}

/**
 * Spiking networks of the same sizes trained as one FusedPopulation, each behind a learner of its
 * own (`member(p)`), so that several runs of the sequential protocol advance together on one thread.
 * A member's trainStep and evaluate return promises; once every member still in the group has asked
 * for its next pass, the passes are made, in one population pass per kind and batch shape (members
 * at different points of their sequences — another task length, an evaluation — go in separate
 * passes). A member that is disposed leaves the group, and the others no longer wait for it.
 *
 * Each member computes exactly what a FusedEngine on its own state computes (FusedPopulation), so a
 * run gives the same numbers alone or in any group.
 */
export class LockstepGroup {
  private readonly population: FusedPopulation;
  private readonly left: boolean[];
  private readonly neurons: number[];
  private live: number;
  private pending: Request[] = [];
  /** Passes made (population calls), and the member-passes they advanced: the mean group size is their ratio. */
  passes = 0;
  memberPasses = 0;

  constructor(
    states: readonly NetworkState[],
    private readonly models: readonly string[],
  ) {
    this.population = FusedPopulation.create(states);
    this.left = states.map(() => false);
    this.neurons = states.map((s) => s.config.nRec);
    this.live = states.length;
  }

  get size(): number {
    return this.population.size;
  }

  /** The learner of member p (one per member; call once). */
  member(p: number): SequenceLearner {
    return new LockstepLearner(this, this.population, p, this.models[p]!, this.neurons[p]!);
  }

  request(member: number, batch: TrialBatch, pass: Pass, reject: (e: Error) => void): void {
    if (this.left[member]) throw new Error(`member ${member} has left the group`);
    if (this.pending.some((r) => r.member === member)) throw new Error(`member ${member} already waits for a pass`);
    this.pending.push({ member, batch, pass, reject });
    if (this.pending.length === this.live) this.flush();
  }

  leave(member: number): void {
    if (this.left[member]) return;
    this.left[member] = true;
    this.live--;
    const mine = this.pending.filter((r) => r.member === member);
    this.pending = this.pending.filter((r) => r.member !== member);
    for (const r of mine) r.reject(new Error(`member ${member} left the group`));
    if (this.live > 0 && this.pending.length === this.live) this.flush();
  }

  /** Makes every pending pass, grouped by kind and batch shape, in member order within a group. */
  private flush(): void {
    const requests = this.pending;
    this.pending = [];
    const groups = new Map<string, Request[]>();
    for (const r of requests) {
      const key = `${r.pass.kind}|${r.batch.steps}|${r.batch.batch}`;
      const g = groups.get(key);
      if (g) g.push(r);
      else groups.set(key, [r]);
    }
    for (const g of groups.values()) {
      const batches: (TrialBatch | null)[] = new Array<TrialBatch | null>(this.size).fill(null);
      for (const r of g) batches[r.member] = r.batch;
      this.passes++;
      this.memberPasses += g.length;
      try {
        if (g[0]!.pass.kind === 'train') {
          const out = this.population.trainStep(batches);
          for (const r of g) (r.pass as Extract<Pass, { kind: 'train' }>).resolve(out[r.member]!);
        } else {
          const out = this.population.evaluate(batches);
          for (const r of g) (r.pass as Extract<Pass, { kind: 'eval' }>).resolve(out[r.member]!);
        }
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        for (const r of g) r.reject(err);
      }
    }
  }
}

class LockstepLearner implements SequenceLearner {
  readonly info: EngineInfo = { engine: 'fused', backend: 'wasm-simd' };

  constructor(
    private readonly group: LockstepGroup,
    private readonly population: FusedPopulation,
    private readonly p: number,
    readonly model: string,
    private readonly neurons: number,
  ) {}

  trainStep(batch: TrialBatch): Promise<LearnerStep> {
    return new Promise((resolve, reject) => {
      this.group.request(
        this.p,
        batch,
        { kind: 'train', resolve: (s) => resolve({ loss: s.loss, taskLoss: s.taskLoss, meanU2: s.meanU2 }) },
        reject,
      );
    });
  }

  evaluate(batch: TrialBatch): Promise<LearnerEvaluation> {
    return new Promise((resolve, reject) => {
      this.group.request(
        this.p,
        batch,
        {
          kind: 'eval',
          resolve: (e) =>
            resolve({
              taskLoss: e.taskLoss,
              accuracy: e.accuracy,
              firingRate: e.firingRate,
              activeNeurons: e.activeNeurons,
              neurons: this.neurons,
              outputs: e.outputs,
            }),
        },
        reject,
      );
    });
  }

  startTask(): void {
    this.population.resetOptimizer(this.p);
  }

  firstConvergence(meanU2: number): void {
    this.population.setHomeostaticTarget(this.p, meanU2);
  }

  save(): Uint8Array {
    return serializeState(this.population.snapshot(this.p));
  }

  intrinsic(): Record<string, Float64Array> {
    return intrinsicOf(this.population.snapshot(this.p));
  }

  recurrentWeights() {
    const s = this.population.snapshot(this.p);
    return { n: s.config.nRec, w: s.params.wRec };
  }

  dispose(): void {
    this.group.leave(this.p);
  }
}
