import type { EngineInfo, EvalOptions, Evaluation, Gradients, NetworkState, StepStats, TrialBatch } from './engine.js';

/**
 * The batches of one pass: a single batch shared by every member, or one entry per member, where a
 * null entry leaves that member out of the pass (its state and step count unchanged, its result null).
 */
export type PassBatches = TrialBatch | readonly (TrialBatch | null)[];

/**
 * P independent networks of the same sizes (different masks, seeds or settings) trained in
 * lock-step: one call advances all of them. Implementations: FusedPopulation (the calling thread),
 * ThreadedPopulation (worker threads) and GpuPopulation (WebGPU, `@ip2/snn/gpu`); build one with
 * createPopulation. Every method returns a promise, and operations take effect in the order they
 * were called, so a caller may issue several without waiting. The batches passed to a call must not
 * be changed until its promise settles. Member p of a fused population computes exactly what a
 * FusedEngine built from the same state computes.
 */
export interface Population {
  /** Which engine and backend compute the members (what a run records). */
  readonly info: EngineInfo;
  /** The number of members P. */
  readonly size: number;
  /** One optimiser step of every member in the pass. */
  trainStep(batch: TrialBatch | readonly TrialBatch[]): Promise<StepStats[]>;
  trainStep(batches: PassBatches): Promise<(StepStats | null)[]>;
  /** Forward passes without update; `lesion` (1 = silenced) applies to every member. */
  evaluate(batch: TrialBatch | readonly TrialBatch[], options?: EvalOptions): Promise<Evaluation[]>;
  evaluate(batches: PassBatches, options?: EvalOptions): Promise<(Evaluation | null)[]>;
  /** Loss and the gradients of every group of every member, no update. */
  gradients(batch: TrialBatch | readonly TrialBatch[]): Promise<Gradients[]>;
  /** Zeroes Adam's moments and step count of member p (of every member without p). */
  resetOptimizer(p?: number): Promise<void>;
  setHomeostaticTarget(p: number, value: number | null): Promise<void>;
  /** The whole state of member p, loadable by any engine. */
  snapshot(p: number): Promise<NetworkState>;
  snapshots(): Promise<NetworkState[]>;
  /** Frees what the population holds; every later call rejects. */
  dispose(): Promise<void>;
}
