import type { Interval } from './dom.js';

/** The API's views (apps/api/src/schemas.ts), as far as the dashboard reads them. */
export interface SearchView {
  readonly id: string;
  readonly state: string;
  readonly family: string;
  readonly space: readonly string[];
  readonly strategy: Record<string, unknown>;
  readonly protocol: Record<string, unknown>;
  readonly plannedTaskTrainings: number;
  readonly error: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export interface SearchList {
  readonly items: readonly SearchView[];
  readonly nextCursor: string | null;
  readonly page?: number;
  readonly total?: number;
}

export interface RunView {
  readonly id: string;
  readonly seedIndex: number;
  readonly seed: number;
  readonly state: string;
  readonly tasksDone: number;
}

export interface CandidateView {
  readonly id: string;
  readonly bits: string;
  readonly keys: readonly string[];
  readonly role: string;
  readonly rung: number;
  readonly state: string;
  readonly score: Interval | null;
  readonly runs: readonly RunView[];
}

/** A task event: its run, then the fields of the API's TaskResult (null: not finite, or not recorded). */
export interface TaskEvent {
  readonly runId: string;
  readonly candidate: string;
  readonly seedIndex: number;
  readonly taskIndex: number;
  /** Iterations to criterion: iterations run − convergence window (a failed task: censored there). */
  readonly iterations: number | null;
  readonly trialsToCriterion?: number | null;
  readonly batchSize?: number | null;
  readonly totalIterations: number;
  readonly converged: boolean;
  readonly failure: string | null;
  readonly finalLoss: number | null;
  readonly accuracy: number | null;
  readonly heldOutLoss?: number | null;
  /** Mean spikes per hidden neuron per step on the held-out batch (null: non-spiking, or not recorded). */
  readonly firingRate?: number | null;
  /** Hidden neurons that spiked on the held-out batch at the end of the task. */
  readonly activeNeurons?: number | null;
  readonly neurons?: number | null;
  readonly fractionSilent?: number | null;
  readonly wallMs?: number | null;
}

export interface StateEvent {
  readonly id: string;
  readonly state: string;
  readonly error: string | null;
  readonly tasksDone: number;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export interface CandidateEvidence {
  readonly id: string;
  readonly keys: readonly string[];
  readonly role: string;
  readonly tasks: number;
  readonly seeds: number;
  readonly score: Interval;
  readonly metrics: Record<'finalEfficiency' | 'speedUp' | 'l2lSlope' | 'auc' | 'failures', Interval>;
}

export interface Comparison {
  readonly candidate: string;
  readonly role: string;
  readonly tasks: number;
  readonly best: Interval;
  readonly other: Interval;
  readonly ratio: number | null;
  readonly advantage: Interval;
}

export interface Decision {
  readonly best: CandidateEvidence;
  readonly runnerUp: CandidateEvidence | null;
  readonly separable: boolean;
  readonly versusRunnerUp: Comparison | null;
  readonly versus: Record<'rsnn-noip' | 'ip-inner', Comparison | null>;
  readonly ranking: readonly { readonly id: string; readonly score: Interval }[];
  readonly rungs: readonly {
    readonly rung: number;
    readonly tasks: number;
    readonly ranking: readonly { readonly id: string; readonly score: number | null }[];
    readonly pruned: readonly string[];
  }[];
  readonly rule: { readonly metric: string; readonly direction: 'lower' | 'higher' };
  readonly seeds: number;
  readonly tasks: number;
  readonly bootstrap: { readonly resamples: number; readonly level: number };
  readonly taskTrainings: { readonly measured: number; readonly planned: number };
}

/** The validation of a decision on fresh seeds (ValidationRecord of @ip2/search). */
export interface ValidationRecord {
  readonly verdict: 'confirmed' | 'tie' | 'overturned' | 'unvalidated';
  readonly seeds: number;
  readonly runSeeds: readonly number[];
  readonly tasks: number;
  readonly iterationCap: number;
  readonly searchChoice: { readonly bits: string; readonly keys: readonly string[] };
  readonly better: { readonly bits: string; readonly keys: readonly string[] };
  readonly versus: readonly {
    readonly candidate: string;
    readonly as: readonly string[];
    readonly seeds: number;
    readonly chosen: Interval;
    readonly other: Interval;
    readonly advantage: Interval;
  }[];
  readonly statement: string;
}

export interface Effect {
  readonly keys: readonly string[];
  readonly effect: Interval;
  readonly reading: 'helps' | 'hurts' | 'unclear';
}

/** GET /v1/searches/{id}/importance. */
export interface ImportanceView {
  readonly importance: {
    readonly metric: string;
    readonly direction: 'lower' | 'higher';
    readonly tasks: number;
    readonly seeds: number;
    readonly level: number;
    readonly main: readonly Effect[];
    readonly interactions: readonly Effect[];
  } | null;
  readonly unavailable: string | null;
}

export interface FixedConfigView {
  readonly id: string;
  readonly family: string;
  readonly version: number;
  /** The version of the model's defaults the configuration was measured under (absent from older servers: 1). */
  readonly modelVersion?: number;
  readonly bits: string;
  /** The validation verdict (absent from older servers: read the record's validation). */
  readonly verdict?: ValidationRecord['verdict'];
  readonly hash: string;
  readonly searchId: string | null;
  readonly createdAt: string;
  readonly record: {
    readonly space?: readonly string[];
    readonly mask?: { readonly bits: string; readonly keys: readonly string[] };
    readonly protocol?: Record<string, unknown>;
    readonly evidence?: Decision;
    readonly validation?: ValidationRecord;
  };
}
