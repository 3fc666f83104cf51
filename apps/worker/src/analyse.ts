import { InvalidJobError, parsePayload, parseResult, type JobPayload, type JobResult } from '@ip2/contracts';
import { NotFoundError, type Store } from '@ip2/db';
import { analyseConfiguration, sortTaskRecords } from '@ip2/report';
import { parseStoredSearchDefinition } from '@ip2/search';
import type { ComputeOptions } from '@ip2/snn';
import { UnrecoverableError } from 'bullmq';

/** What the analysis processor needs of a BullMQ job. */
export interface AnalyseJob {
  readonly id?: string | undefined;
  readonly data: unknown;
  readonly attemptsMade: number;
  readonly opts: { readonly attempts?: number | undefined };
}

export interface AnalyseDeps {
  readonly store: Store;
  /** The engine and TensorFlow.js backend the runs are trained again on (parsed from the worker's environment). */
  readonly compute?: ComputeOptions;
  readonly log?: (message: string) => void;
}

/**
 * One search.analyse job: the analyses of a completed search's chosen configuration, made as the local
 * mode makes analysis.json (analyseConfiguration on the fixed mask, checked against the stored task
 * results), stored with the search. An analysis already stored is not made again; a search or request
 * that is gone ends the job without retries.
 */
export async function processAnalyseJob(deps: AnalyseDeps, job: AnalyseJob): Promise<JobResult<'search.analyse'>> {
  let payload: JobPayload<'search.analyse'>;
  try {
    payload = parsePayload('search.analyse', job.data);
  } catch (e) {
    if (e instanceof InvalidJobError) throw new UnrecoverableError(e.message);
    throw e;
  }
  try {
    return await analyse(deps, payload);
  } catch (e) {
    // The last attempt's error is recorded, so that the report says why there are no analyses.
    const last = e instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (last) {
      await deps.store.analyses
        .fail(payload.searchId, e instanceof Error ? e.message : String(e))
        .catch((f: unknown) => deps.log?.(`search ${payload.searchId}: could not record the failure: ${String(f)}`));
    }
    throw e;
  }
}

async function analyse(deps: AnalyseDeps, payload: JobPayload<'search.analyse'>): Promise<JobResult<'search.analyse'>> {
  const { store } = deps;
  const { searchId, seeds } = payload;
  const stored = await store.analyses.get(searchId);
  if (stored === null) throw new UnrecoverableError(`search ${searchId}: no analysis was asked for`);
  if (stored.state === 'COMPLETE') {
    deps.log?.(`search ${searchId}: analyses already stored`);
    return parseResult('search.analyse', { runs: 0, reproduced: 0, compared: 0, wallSeconds: 0 });
  }
  let search;
  try {
    search = await store.controller.search(searchId);
  } catch (e) {
    if (e instanceof NotFoundError) throw new UnrecoverableError(`search ${searchId} is gone`);
    throw e;
  }
  const fixed = await store.fixedConfigs.bySearch(searchId);
  if (fixed === null) throw new UnrecoverableError(`search ${searchId} has no fixed configuration`);
  const definition = parseStoredSearchDefinition(search.definition);
  const records = sortTaskRecords(await store.analyses.taskResults(searchId));
  deps.log?.(
    `search ${searchId}: analysing mask ${fixed.record.mask.keys.join(',') || '(none)'} over ${seeds} seed(s)`,
  );
  const { engine, tf } = deps.compute ?? {};
  const analysis = await analyseConfiguration(definition, fixed.record.mask.keys, {
    seeds,
    records,
    ...(engine ? { engine } : {}),
    ...(tf ? { tf } : {}),
  });
  await store.analyses.complete(searchId, analysis);
  const tasks = analysis.runs.flatMap((r) => r.tasks).filter((t) => t.reproduced !== null);
  deps.log?.(
    `search ${searchId}: analyses of mask ${analysis.candidate} stored (${analysis.runs.length} runs, ${analysis.wallSeconds.toFixed(1)} s)`,
  );
  return parseResult('search.analyse', {
    runs: analysis.runs.length,
    reproduced: tasks.filter((t) => t.reproduced).length,
    compared: tasks.length,
    wallSeconds: analysis.wallSeconds,
  });
}
