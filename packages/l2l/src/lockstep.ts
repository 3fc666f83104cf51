import {
  serializeState,
  type EngineInfo,
  type Evaluation,
  type NetworkState,
  type Population,
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
 * Spiking networks of the same sizes trained as one Population (createPopulation: on this thread,
 * over worker threads, or on a GPU), each behind a learner of its own (`member(p)`), so that several
 * runs of the sequential protocol advance together. A member's trainStep and evaluate wait until
 * every member still in the group has asked for its next pass; then the passes are made, in one
 * population pass per kind and batch shape (members at different points of their sequences —
 * another task length, an evaluation — go in separate passes). A member that is disposed leaves the
 * group, and the others no longer wait for it; the last one to leave disposes the population.
 *
 * On a fused population each member computes exactly what a FusedEngine on its own state computes,
 * so a run gives the same numbers alone or in any group. Each member reports the population's engine.
 */
export class LockstepGroup {
  private readonly left: boolean[];
  private readonly neurons: number[];
  private live: number;
  private pending: Request[] = [];
  /** Passes made (population calls), and the member-passes they advanced: the mean group size is their ratio. */
  passes = 0;
  memberPasses = 0;

  /** `states` are the members' networks, from which `population` was built, in its order. */
  constructor(
    private readonly population: Population,
    states: readonly NetworkState[],
    private readonly models: readonly string[],
  ) {
    if (states.length !== population.size) {
      throw new RangeError(`expected ${population.size} member states, got ${states.length}`);
    }
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

  /** Which engine computes the members. */
  get info(): EngineInfo {
    return this.population.info;
  }

  request(member: number, batch: TrialBatch, pass: Pass, reject: (e: Error) => void): void {
    if (this.left[member]) throw new Error(`member ${member} has left the group`);
    if (this.pending.some((r) => r.member === member)) throw new Error(`member ${member} already waits for a pass`);
    this.pending.push({ member, batch, pass, reject });
    if (this.pending.length === this.live) this.flush();
  }

  leave(member: number): Promise<void> {
    if (this.left[member]) return Promise.resolve();
    this.left[member] = true;
    this.live--;
    const mine = this.pending.filter((r) => r.member === member);
    this.pending = this.pending.filter((r) => r.member !== member);
    for (const r of mine) r.reject(new Error(`member ${member} left the group`));
    if (this.live > 0 && this.pending.length === this.live) this.flush();
    if (this.live === 0) return this.population.dispose();
    return Promise.resolve();
  }

  /**
   * Makes every pending pass, grouped by kind and batch shape, in member order within a group. The
   * passes are issued at once (the population makes them in that order) and each member's promise
   * settles with its pass.
   */
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
      const fail = (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        for (const r of g) r.reject(err);
      };
      if (g[0]!.pass.kind === 'train') {
        this.population.trainStep(batches).then((out) => {
          for (const r of g) (r.pass as Extract<Pass, { kind: 'train' }>).resolve(out[r.member]!);
        }, fail);
      } else {
        this.population.evaluate(batches).then((out) => {
          for (const r of g) (r.pass as Extract<Pass, { kind: 'eval' }>).resolve(out[r.member]!);
        }, fail);
      }
    }
  }
}

class LockstepLearner implements SequenceLearner {
  readonly info: EngineInfo;

  constructor(
    private readonly group: LockstepGroup,
    private readonly population: Population,
    private readonly p: number,
    readonly model: string,
    private readonly neurons: number,
  ) {
    this.info = population.info;
  }

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

  startTask(): Promise<void> {
    return this.population.resetOptimizer(this.p);
  }

  firstConvergence(meanU2: number): Promise<void> {
    return this.population.setHomeostaticTarget(this.p, meanU2);
  }

  async save(): Promise<Uint8Array> {
    return serializeState(await this.population.snapshot(this.p));
  }

  async intrinsic(): Promise<Record<string, Float64Array>> {
    return intrinsicOf(await this.population.snapshot(this.p));
  }

  dispose(): Promise<void> {
    return this.group.leave(this.p);
  }
}
