import type { z } from 'zod';
import type {
  candidateListSchema,
  candidateViewSchema,
  fixedConfigListSchema,
  fixedConfigViewSchema,
  importanceViewSchema,
  learningCurveSchema,
  runViewSchema,
  searchListSchema,
  searchViewSchema,
  SearchState,
  TaskFailure,
  taskViewSchema,
} from './schemas.js';

/** The views the API answers with, as their schemas type them (what clients read). */
export type SearchView = z.output<typeof searchViewSchema>;
export type SearchList = z.output<typeof searchListSchema>;
export type RunView = z.output<typeof runViewSchema>;
export type CandidateView = z.output<typeof candidateViewSchema>;
export type CandidateList = z.output<typeof candidateListSchema>;
export type TaskView = z.output<typeof taskViewSchema>;
export type LearningCurve = z.output<typeof learningCurveSchema>;
export type FixedConfigView = z.output<typeof fixedConfigViewSchema>;
export type FixedConfigList = z.output<typeof fixedConfigListSchema>;
export type ImportanceView = z.output<typeof importanceViewSchema>;

/** The SSE `task` event: the run it belongs to, then the task view (the REST task list's items). */
export type TaskEvent = { readonly runId: string; readonly candidate: string; readonly seedIndex: number } & TaskView;

/** The SSE `state` event: the search's state and the task trainings done so far. */
export interface StateEvent {
  readonly id: string;
  readonly state: SearchState;
  readonly error: string | null;
  readonly tasksDone: number;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

/** The events of GET /v1/searches/{id}/events: the `event:` name and its `data:`. */
export interface SearchEvents {
  readonly state: StateEvent;
  readonly task: TaskEvent;
  readonly candidates: {
    readonly items: readonly Pick<CandidateView, 'id' | 'bits' | 'state' | 'rung' | 'score'>[];
  };
  /** The last event: the search finished, or was deleted. */
  readonly end: { readonly id: string; readonly state: SearchState | 'DELETED' };
  readonly error: { readonly detail: string };
}

/** JSON has no NaN or ±∞: they are sent as null. */
export function finite(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

export function searchLinks(id: string): SearchView['links'] {
  return {
    self: `/v1/searches/${id}`,
    candidates: `/v1/searches/${id}/candidates`,
    events: `/v1/searches/${id}/events`,
    report: `/v1/searches/${id}/report`,
    results: `/v1/searches/${id}/results`,
    importance: `/v1/searches/${id}/importance`,
  };
}

/**
 * The measured fields of one stored task result: NaN where a number is not finite or a row predates its
 * column, failure already mapped to the wire's enum by the store.
 */
export interface TaskResultFields {
  readonly taskIndex: number;
  readonly iterations: number;
  readonly trialsToCriterion: number;
  readonly batchSize: number;
  readonly totalIterations: number;
  readonly converged: boolean;
  readonly failure: TaskFailure | null;
  readonly finalLoss: number;
  readonly accuracy: number;
  readonly heldOutLoss: number;
  readonly firingRate: number;
  readonly activeNeurons: number;
  readonly neurons: number;
  readonly fractionSilent: number;
  readonly wallMs: number;
}

/**
 * One task result as the REST task list, the SSE task event and the task files (tasks.json, tasks.csv)
 * show it: non-finite numbers and fields a row predates as null.
 */
export function taskView(t: TaskResultFields): TaskView {
  return {
    taskIndex: t.taskIndex,
    iterations: finite(t.iterations),
    trialsToCriterion: finite(t.trialsToCriterion),
    batchSize: finite(t.batchSize),
    totalIterations: t.totalIterations,
    converged: t.converged,
    failure: t.failure,
    finalLoss: finite(t.finalLoss),
    accuracy: finite(t.accuracy),
    heldOutLoss: finite(t.heldOutLoss),
    firingRate: finite(t.firingRate),
    activeNeurons: finite(t.activeNeurons),
    neurons: finite(t.neurons),
    fractionSilent: finite(t.fractionSilent),
    wallMs: finite(t.wallMs),
  };
}

/** The columns of a task result, in the order of the task view (tasks.csv writes them, less wallMs). */
export const TASK_RESULT_FIELDS = [
  'taskIndex',
  'iterations',
  'trialsToCriterion',
  'batchSize',
  'totalIterations',
  'converged',
  'failure',
  'finalLoss',
  'accuracy',
  'heldOutLoss',
  'firingRate',
  'activeNeurons',
  'neurons',
  'fractionSilent',
  'wallMs',
] as const satisfies readonly (keyof TaskView)[];
