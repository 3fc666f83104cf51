import type { EngineInfo, EvalOptions, Evaluation, Gradients, NetworkState, StepStats, TrialBatch } from '../engine.js';
import { batchAccuracy } from '../metrics.js';
import type { PassBatches, Population } from '../population.js';
import { FusedCore } from './core.js';

/**
 * P independent networks of the same sizes (different masks, seeds or settings) trained in
 * lock-step on the calling thread: one call advances all of them, each on its own batch or on a
 * shared one. Their parameters and trajectories are stored structure-of-arrays, so each time step of
 * all P networks is one pass over contiguous memory. Member p computes exactly what a FusedEngine
 * built from the same state computes. The work of a call is done before it returns; its promise only
 * carries the result (or the error).
 */
export class FusedPopulation implements Population {
  readonly info: EngineInfo = { engine: 'fused', backend: 'wasm-simd' };
  private readonly core: FusedCore;
  private readonly shared: (TrialBatch | null)[];
  private disposed = false;

  private constructor(states: readonly NetworkState[]) {
    this.core = new FusedCore(states);
    this.shared = states.map(() => undefined as unknown as TrialBatch);
  }

  static create(states: readonly NetworkState[]): FusedPopulation {
    return new FusedPopulation(states);
  }

  get size(): number {
    return this.core.P;
  }

  /** How many times the step-dependent buffers were allocated. */
  get bufferAllocations(): number {
    return this.core.allocations;
  }

  private batches(batch: PassBatches): readonly (TrialBatch | null)[] {
    this.live();
    if (!Array.isArray(batch)) {
      this.shared.fill(batch as TrialBatch);
      return this.shared;
    }
    return batch as readonly (TrialBatch | null)[];
  }

  /**
   * One optimiser step of every network; a single batch is shared by all. With one entry per
   * network, a null entry leaves that network out of the step (its state and step count unchanged)
   * and its result is null.
   */
  trainStep(batch: TrialBatch | readonly TrialBatch[]): Promise<StepStats[]>;
  trainStep(batches: PassBatches): Promise<(StepStats | null)[]>;
  async trainStep(batch: PassBatches): Promise<(StepStats | null)[]> {
    const bs = this.batches(batch);
    this.core.pass(bs, 'train');
    return this.core.terms.map((t, p) => (bs[p] === null ? null : { ...t, gradNorm: this.core.gradNorms[p]! }));
  }

  /** Forward passes without update; null entries as in trainStep. */
  evaluate(batch: TrialBatch | readonly TrialBatch[], options?: EvalOptions): Promise<Evaluation[]>;
  evaluate(batches: PassBatches, options?: EvalOptions): Promise<(Evaluation | null)[]>;
  async evaluate(batch: PassBatches, options: EvalOptions = {}): Promise<(Evaluation | null)[]> {
    const bs = this.batches(batch);
    const nRec = this.core.members[0]!.config.nRec;
    if (options.lesion && options.lesion.length !== nRec) {
      throw new RangeError(`lesion has ${options.lesion.length} entries, network has nRec=${nRec}`);
    }
    const lesion = options.lesion ? bs.map(() => options.lesion!) : null;
    this.core.pass(bs, 'eval', lesion);
    return this.core.terms.map((t, p) => {
      const b = bs[p]!;
      if (b === null) return null;
      const outputs = this.core.outputs(p);
      return { ...t, outputs, accuracy: batchAccuracy(b, outputs), activeNeurons: this.core.activeNeurons(p) };
    });
  }

  async gradients(batch: TrialBatch | readonly TrialBatch[]): Promise<Gradients[]> {
    this.core.pass(this.batches(batch), 'grad');
    return this.core.terms.map((t, p) => ({ ...t, grads: this.core.paramsOf(p, this.core.grads) }));
  }

  async resetOptimizer(p?: number): Promise<void> {
    this.live();
    if (p === undefined) for (let i = 0; i < this.core.P; i++) this.core.resetOptimizer(i);
    else this.core.resetOptimizer(this.member(p));
  }

  async setHomeostaticTarget(p: number, value: number | null): Promise<void> {
    this.live();
    this.core.members[this.member(p)]!.homeostaticTarget = value;
  }

  async snapshot(p: number): Promise<NetworkState> {
    this.live();
    return this.core.snapshot(this.member(p));
  }

  async snapshots(): Promise<NetworkState[]> {
    this.live();
    return this.core.members.map((_, p) => this.core.snapshot(p));
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }

  private live(): void {
    if (this.disposed) throw new Error('population was disposed');
  }

  private member(p: number): number {
    if (!Number.isInteger(p) || p < 0 || p >= this.core.P) {
      throw new RangeError(`member ${p} out of range [0, ${this.core.P})`);
    }
    return p;
  }
}
