import type { PropertyKey } from '@ip2/snn';

/** Train tasks [fromTask, toTask) of one run, continuing from the run's saved state after task fromTask − 1. */
export interface TrainAction {
  readonly kind: 'train';
  readonly candidate: string;
  /** The candidate's learnable keys. */
  readonly keys: readonly PropertyKey[];
  readonly seedIndex: number;
  /** The run's seed, deriveSeed(baseSeed, 'run', seedIndex): the same for every candidate. */
  readonly seed: number;
  readonly fromTask: number;
  readonly toTask: number;
  /** The rung this training serves (schedule length for a validation run). */
  readonly rung: number;
  /**
   * 'search': a run of the search's rungs (seed index < protocol.seeds); 'validation': a run of the
   * validation stage on a fresh seed (seed index protocol.seeds + v), after the decision.
   */
  readonly stage: 'search' | 'validation';
}

/** The candidate leaves the search after `rung`, having been compared on `tasks` tasks. */
export interface PruneAction {
  readonly kind: 'prune';
  readonly candidate: string;
  readonly rung: number;
  readonly tasks: number;
}

/** Every rung is measured: the decision can be made. */
export interface DoneAction {
  readonly kind: 'done';
}

export type Action = TrainAction | PruneAction | DoneAction;
