import type { EvalOptions, Evaluation, Gradients, NetworkState, StepStats, TrialBatch } from '../engine.js';
import { batchAccuracy } from '../metrics.js';
import { FusedCore } from './core.js';

/**
 * P independent networks of the same sizes (different masks, seeds or settings) trained in
 * lock-step: one call advances all of them, each on its own batch or on a shared one. Their
 * parameters and trajectories are stored structure-of-arrays, so each time step of all P
 * networks is one pass over contiguous memory. Member p computes exactly what a FusedEngine
 * built from the same state computes.
 */
export class FusedPopulation {
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

  private batches(batch: TrialBatch | readonly (TrialBatch | null)[]): readonly (TrialBatch | null)[] {
    if (this.disposed) throw new Error('population was disposed');
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
  trainStep(batch: TrialBatch | readonly TrialBatch[]): StepStats[];
  trainStep(batches: readonly (TrialBatch | null)[]): (StepStats | null)[];
  trainStep(batch: TrialBatch | readonly (TrialBatch | null)[]): (StepStats | null)[] {
    const bs = this.batches(batch);
    this.core.run(bs, 'train');
    return this.core.terms.map((t, p) => (bs[p] === null ? null : { ...t, gradNorm: this.core.gradNorms[p]! }));
  }

  /** Forward passes without update; null entries as in trainStep. */
  evaluate(batch: TrialBatch | readonly TrialBatch[], options?: EvalOptions): Evaluation[];
  evaluate(batches: readonly (TrialBatch | null)[], options?: EvalOptions): (Evaluation | null)[];
  evaluate(batch: TrialBatch | readonly (TrialBatch | null)[], options: EvalOptions = {}): (Evaluation | null)[] {
    const bs = this.batches(batch);
    const lesion = options.lesion ? bs.map(() => options.lesion!) : null;
    this.core.run(bs, 'eval', lesion);
    return this.core.terms.map((t, p) => {
      const b = bs[p]!;
      if (b === null) return null;
      const outputs = this.core.outputs(p);
      return { ...t, outputs, accuracy: batchAccuracy(b, outputs), activeNeurons: this.core.activeNeurons(p) };
    });
  }

  gradients(batch: TrialBatch | readonly TrialBatch[]): Gradients[] {
    this.core.run(this.batches(batch), 'grad');
    return this.core.terms.map((t, p) => ({ ...t, grads: this.core.paramsOf(p, this.core.grads) }));
  }

  resetOptimizer(p?: number): void {
    if (p === undefined) for (let i = 0; i < this.core.P; i++) this.core.resetOptimizer(i);
    else this.core.resetOptimizer(this.member(p));
  }

  setHomeostaticTarget(p: number, value: number | null): void {
    this.core.members[this.member(p)]!.homeostaticTarget = value;
  }

  snapshot(p: number): NetworkState {
    return this.core.snapshot(this.member(p));
  }

  snapshots(): NetworkState[] {
    return this.core.members.map((_, p) => this.core.snapshot(p));
  }

  dispose(): void {
    this.disposed = true;
  }

  private member(p: number): number {
    if (!Number.isInteger(p) || p < 0 || p >= this.core.P) {
      throw new RangeError(`member ${p} out of range [0, ${this.core.P})`);
    }
    return p;
  }
}
