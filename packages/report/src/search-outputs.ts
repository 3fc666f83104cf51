import type { TaskResult } from '@ip2/l2l';
import { TASK_RESULT_FIELDS } from '@ip2/contracts/http';
import {
  aggregate,
  fixConfiguration,
  importanceOfState,
  searchState,
  standings as standingsOf,
  tableFromRows,
  type CandidateAggregate,
  type FixedConfig,
  type ImportanceUnavailable,
  type PropertyImportance,
  type ResultRow,
  type ResultTable,
  type SearchDefinition,
  type Standing,
} from '@ip2/search';
import { analyseConfiguration, type AnalysisOptions, type ConfigurationAnalysis } from './configuration-analysis.js';
import { searchReportHtml } from './search-report.js';

/*
 * The outputs of a finished search, made the same way wherever its task results are stored (the local
 * mode's folder or the service's database): the sorted task tables and the HTML report.
 */

/** One task result of a search: the run it belongs to, the record, and what computed it. */
export interface SearchTaskRecord {
  readonly candidate: string;
  readonly seedIndex: number;
  readonly result: TaskResult;
  readonly engine: { readonly engine: string; readonly backend: string };
}

/**
 * Columns of a task result in tasks.csv: the fields of the API's task view (wall time is in timings.csv:
 * it differs between runs). Non-finite numbers stay NaN here, so that the files are the same bytes as
 * the local mode's.
 */
export const TASK_COLUMNS = TASK_RESULT_FIELDS.filter((c) => c !== 'wallMs');

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(columns: readonly string[], rows: readonly Record<string, unknown>[]): string {
  const lines = [columns.join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvCell(r[c])).join(','));
  return lines.join('\n') + '\n';
}

/** JSON that keeps NaN and ±Infinity (as strings), which plain JSON cannot represent. */
export function toJson(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n'
  );
}

/** Task records by candidate, seed and task: the order of every output file. */
export function sortTaskRecords<T extends SearchTaskRecord>(records: readonly T[]): T[] {
  return [...records].sort(
    (a, b) =>
      (a.candidate < b.candidate ? -1 : a.candidate > b.candidate ? 1 : 0) ||
      a.seedIndex - b.seedIndex ||
      a.result.taskIndex - b.result.taskIndex,
  );
}

/** The results table of @ip2/search (what strategies, aggregation and the decision read). */
export function taskRecordTable(records: readonly SearchTaskRecord[]): ResultTable {
  return tableFromRows(
    records.map((r) => ({
      candidate: r.candidate,
      seedIndex: r.seedIndex,
      taskIndex: r.result.taskIndex,
      iterations: r.result.iterations,
      converged: r.result.converged,
      finalLoss: r.result.finalLoss,
    })),
  );
}

/** The task files of a search (sorted; the same bytes for the same results, wherever they ran). */
export interface TaskFiles {
  /** tasks.csv: candidate, seedIndex and TASK_COLUMNS. */
  readonly csv: string;
  /** tasks.json: every field but the wall time and the intrinsic snapshots; NaN and ±∞ as strings. */
  readonly json: string;
  /** timings.csv: wall time, engine and backend of every task. */
  readonly timings: string;
}

export function taskFiles(records: readonly SearchTaskRecord[]): TaskFiles {
  const rows = sortTaskRecords(records);
  const flat = rows.map((r) => ({ candidate: r.candidate, seedIndex: r.seedIndex, ...r.result }));
  return {
    csv: toCsv(['candidate', 'seedIndex', ...TASK_COLUMNS], flat),
    json: toJson(flat.map(({ wallMs: _w, intrinsic: _i, ...rest }) => rest)),
    timings: toCsv(
      ['candidate', 'seedIndex', 'taskIndex', 'wallMs', 'engine', 'backend'],
      rows.map((r) => ({
        candidate: r.candidate,
        seedIndex: r.seedIndex,
        taskIndex: r.result.taskIndex,
        wallMs: r.result.wallMs.toFixed(1),
        engine: r.engine.engine,
        backend: r.engine.backend,
      })),
    ),
  };
}

/** Reads tasks.json back into table rows (NaN and ±∞ restored). */
export function parseTasksJson(text: string): ResultRow[] {
  const special = new Set(['NaN', 'Infinity', '-Infinity']);
  return JSON.parse(text, (_k, v: unknown) => (typeof v === 'string' && special.has(v) ? Number(v) : v)) as ResultRow[];
}

export interface SearchReport {
  readonly fixed: FixedConfig;
  /** Every candidate on the common footing (the prefix all reached: aggregate()'s default). */
  readonly candidates: CandidateAggregate[];
  /** The candidates on common footings, with where each stopped (standings of @ip2/search). */
  readonly standings: { readonly all: Standing; readonly finalists: Standing | null };
  /** Property importance from the factorial design, or why there is none. */
  readonly importance: PropertyImportance | ImportanceUnavailable;
  readonly html: string;
  /** The analyses of the chosen configuration, when asked for (`analyse`). */
  readonly analysis?: ConfigurationAnalysis;
}

/**
 * The decision and the HTML report of a finished search from its task records. With `searchId` the fixed
 * configuration names the search it came from (as the service stores it). Throws SearchIncompleteError
 * while the search is not done.
 */
export async function searchReport(
  definition: SearchDefinition,
  records: readonly SearchTaskRecord[],
  options: {
    readonly searchId?: string;
    readonly wallSeconds?: number;
    /**
     * Train the chosen configuration's first runs again for the analyses of SCIENCE.md §8 (see
     * analyseConfiguration; costs about `seeds` runs); without it the report has no analyses.
     */
    readonly analyse?: Omit<AnalysisOptions, 'records'>;
    /** An analysis made earlier (the service's, stored with the search); `analyse` is then not needed. */
    readonly analysis?: ConfigurationAnalysis;
    /** Without an analysis: the report's note on why there is none (e.g. still being computed). */
    readonly analysisNote?: string;
  } = {},
): Promise<SearchReport> {
  const rows = sortTaskRecords(records);
  const table = taskRecordTable(rows);
  const fixed = fixConfiguration(
    definition,
    table,
    options.searchId === undefined ? {} : { searchId: options.searchId },
  );
  const candidates = aggregate(definition, table);
  const state = searchState(definition, table);
  const standings = standingsOf(definition, table);
  const importance = importanceOfState(state);
  const analysis =
    options.analysis ??
    (options.analyse
      ? await analyseConfiguration(definition, fixed.mask.keys, { ...options.analyse, records: rows })
      : undefined);
  const html = await searchReportHtml({
    definition,
    fixed,
    candidates,
    standings,
    importance,
    state,
    results: rows,
    ...(options.wallSeconds === undefined ? {} : { wallSeconds: options.wallSeconds }),
    ...(analysis ? { analysis } : {}),
    ...(options.analysisNote === undefined ? {} : { analysisNote: options.analysisNote }),
  });
  return { fixed, candidates, standings, importance, html, ...(analysis ? { analysis } : {}) };
}
