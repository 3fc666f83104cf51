import { SEARCH_STATES, type SearchState } from '@ip2/contracts/http';

import type { SearchDefinition, StrategyDefinition, SearchProtocol } from '@ip2/search';

export { SEARCH_STATES, type SearchState };

export const CANDIDATE_STATES = ['WAITING', 'RUNNING', 'COMPLETE', 'PRUNED', 'FAILED'] as const;
export type CandidateState = (typeof CANDIDATE_STATES)[number];

export const RUN_STATES = ['WAITING', 'QUEUED', 'RUNNING', 'COMPLETE', 'FAILED', 'CANCELLED'] as const;
export type RunState = (typeof RUN_STATES)[number];

/** States a search never leaves. */
export const TERMINAL_SEARCH_STATES: readonly SearchState[] = ['COMPLETE', 'FAILED', 'CANCELLED'];

export interface SearchRecord {
  readonly id: string;
  readonly owner: string;
  readonly idempotencyKey: string | null;
  readonly family: string;
  readonly space: readonly string[];
  readonly strategy: StrategyDefinition;
  /** budget.maxTaskTrainings of the definition. */
  readonly maxTaskTrainings: number | null;
  readonly protocol: SearchProtocol;
  readonly definition: SearchDefinition;
  readonly definitionHash: string;
  readonly state: SearchState;
  readonly error: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

/** A score with its confidence interval; a bound may be NaN or ±Infinity. */
export interface ScoreInterval {
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
}

export interface RunSummary {
  readonly id: string;
  readonly candidateId: string;
  /** The candidate's mask label. */
  readonly candidate: string;
  readonly seedIndex: number;
  readonly seed: number;
  readonly state: RunState;
  readonly tasksDone: number;
  readonly attempts: number;
  readonly heartbeatAt: Date | null;
  readonly workerId: string | null;
  readonly workerHost: string | null;
  readonly engine: string | null;
  readonly backend: string | null;
  readonly error: string | null;
}

export interface CandidateRecord {
  readonly id: string;
  readonly searchId: string;
  /** Mask label ('101'): the candidate id of @ip2/search. */
  readonly bits: string;
  readonly keys: readonly string[];
  readonly role: string;
  readonly rung: number;
  readonly state: CandidateState;
  readonly score: ScoreInterval | null;
  readonly runs: readonly RunSummary[];
}
