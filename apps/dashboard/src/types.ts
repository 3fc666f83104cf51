import type { FixedConfigView as FixedConfigWire, Verdict } from '@ip2/contracts/http';
import type { Interval } from './dom.js';

export type {
  CandidateView,
  ImportanceView,
  RunView,
  SearchList,
  SearchView,
  StateEvent,
  TaskEvent,
} from '@ip2/contracts/http';

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
  readonly verdict: Verdict;
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

/**
 * A fixed configuration as the API sends it, its record read as @ip2/search's FixedConfig (the fields the
 * dashboard shows), and the fields older servers lack optional (modelVersion: 1; verdict: the record's).
 */
export type FixedConfigView = Omit<FixedConfigWire, 'modelVersion' | 'verdict' | 'record'> &
  Partial<Pick<FixedConfigWire, 'modelVersion' | 'verdict'>> & {
    readonly record: {
      readonly space?: readonly string[];
      readonly mask?: { readonly bits: string; readonly keys: readonly string[] };
      readonly protocol?: Record<string, unknown>;
      readonly evidence?: Decision;
      readonly validation?: ValidationRecord;
    };
  };
