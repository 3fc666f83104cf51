import { DEFAULT_ANALYSIS_SEEDS, type JobResult } from '@ip2/contracts';
import { NotFoundError, TERMINAL_SEARCH_STATES, type RunSummary, type Store } from '@ip2/db';
import {
  aggregate,
  fixConfiguration,
  parseStoredSearchDefinition,
  searchState,
  tableFromRows,
  type TrainAction,
} from '@ip2/search';
import { jobId, type Queues } from '@ip2/contracts';

export interface ControllerContext {
  readonly store: Store;
  readonly queues: Queues;
  readonly log?: (message: string) => void;
  /** Runs of the chosen mask that a completed search's analyses train again (default 2; 0: no analyses). */
  readonly analysisSeeds?: number;
}

const runKey = (candidate: string, seedIndex: number) => `${candidate}/${seedIndex}`;

/**
 * Looks at a search and moves it on, from the database alone (a restarted controller loses nothing):
 * prunes what the strategy prunes, queues the chunks the strategy asks for — one per run at most, as
 * the local mode does: a run that is queued or running is left alone — and, once every rung is
 * measured, fixes the configuration and completes the search. Safe to run twice at once.
 */
export async function advanceSearch(ctx: ControllerContext, searchId: string): Promise<JobResult<'search.advance'>> {
  const { store, queues } = ctx;
  const log = ctx.log ?? (() => undefined);
  let search;
  try {
    search = await store.controller.search(searchId);
  } catch (e) {
    if (e instanceof NotFoundError) return { enqueued: 0, done: true };
    throw e;
  }
  if (TERMINAL_SEARCH_STATES.includes(search.state)) return { enqueued: 0, done: true };
  const definition = parseStoredSearchDefinition(search.definition);
  const table = tableFromRows(await store.runs.resultTable(searchId));
  const state = searchState(definition, table);

  const candidates = new Map((await store.controller.candidates(searchId)).map((c) => [c.bits, c]));
  for (const a of state.actions) {
    if (a.kind !== 'prune') continue;
    const c = candidates.get(a.candidate);
    if (c && c.state !== 'PRUNED')
      await store.controller.updateCandidate(searchId, a.candidate, { state: 'PRUNED', rung: a.rung });
  }
  for (const p of state.progress) {
    const c = candidates.get(p.id);
    if (c && p.rung > c.rung) await store.controller.updateCandidate(searchId, p.id, { rung: p.rung });
  }

  if (state.done) {
    // Fixed only now: after the decision and its validation on fresh seeds (the validation's runs are in `table`).
    const fixed = fixConfiguration(definition, table, { searchId });
    await store.fixedConfigs.save(fixed, { searchId });
    // Every candidate's score on the same prefix of tasks (the common footing: the first rung's under
    // successive halving), so that the scores the API and the dashboard list side by side are comparable.
    for (const c of aggregate(definition, table)) {
      const finished = state.progress.find((p) => p.id === c.id)?.state === 'finished';
      await store.controller.updateCandidate(searchId, c.id, {
        score: { mean: c.score.mean, lo: c.score.lo, hi: c.score.hi },
        ...(finished ? { state: 'COMPLETE' } : {}),
      });
    }
    // A control validated without being a candidate of the search (a random search that did not draw it).
    const measured = new Set(state.candidates.map((c) => c.id));
    for (const t of state.validation.targets) {
      const c = candidates.get(t.id);
      if (!measured.has(t.id) && c !== undefined && c.state !== 'COMPLETE') {
        await store.controller.updateCandidate(searchId, t.id, { state: 'COMPLETE' });
      }
    }
    const analysisSeeds = ctx.analysisSeeds ?? DEFAULT_ANALYSIS_SEEDS;
    if (analysisSeeds > 0) {
      // Recorded as pending before the search completes, so that its report says the analyses are coming.
      const seeds = Math.min(analysisSeeds, definition.protocol.seeds);
      await store.analyses.request(searchId, seeds);
      await queues.addAnalyse({ searchId, seeds });
    }
    await store.controller.setSearchState(searchId, 'COMPLETE');
    log(`search ${searchId}: COMPLETE, fixed mask ${fixed.mask.bits} (${fixed.hash.slice(0, 12)})`);
    return { enqueued: 0, done: true };
  }

  let runs = new Map<string, RunSummary>(
    (await store.runs.list(searchId)).map((r) => [runKey(r.candidate, r.seedIndex), r]),
  );
  // The validation's runs are known once the decision is made: they are made then, as ordinary WAITING runs.
  const missing = state.actions.filter(
    (a): a is TrainAction =>
      a.kind === 'train' && a.stage === 'validation' && !runs.has(runKey(a.candidate, a.seedIndex)),
  );
  if (missing.length > 0) {
    const all = new Map(state.validation.targets.map((t) => [t.id, t]));
    const made = await store.controller.ensureRuns(
      searchId,
      missing.map((a) => ({
        bits: a.candidate,
        keys: [...a.keys],
        role: all.get(a.candidate)?.role ?? 'ip-masked',
        seedIndex: a.seedIndex,
        seed: a.seed,
      })),
    );
    if (made > 0)
      log(`search ${searchId}: decided; validating on ${definition.validation.seeds} fresh seeds (${made} runs)`);
    runs = new Map<string, RunSummary>(
      (await store.runs.list(searchId)).map((r) => [runKey(r.candidate, r.seedIndex), r]),
    );
  }
  let enqueued = 0;
  for (const a of state.actions) {
    if (a.kind !== 'train') continue;
    const run = runs.get(runKey(a.candidate, a.seedIndex));
    if (!run) throw new Error(`search ${searchId}: no run for candidate ${a.candidate}, seed ${a.seedIndex}`);
    switch (run.state) {
      case 'WAITING':
        await queues.addTrain(trainPayload(searchId, run, a));
        await store.runs.markQueued(run.id);
        enqueued++;
        break;
      case 'QUEUED': {
        // Normally its job is waiting; one that vanished or failed for good is dealt with here.
        const payload = trainPayload(searchId, run, a);
        const id = jobId('run.train', payload);
        const jobState = await queues.train.getJobState(id);
        if (jobState === 'unknown') {
          const other = await queuedJobOf(queues, run.id);
          if (!other) {
            await queues.addTrain(payload);
            enqueued++;
          }
        } else if (jobState === 'failed') {
          const job = await queues.train.getJob(id);
          await failSearch(ctx, searchId, `run ${run.id} failed: ${job?.failedReason ?? 'unknown error'}`);
          return { enqueued, done: true };
        }
        break;
      }
      case 'FAILED':
        await failSearch(
          ctx,
          searchId,
          `run ${run.id} (candidate ${run.candidate}, seed ${run.seedIndex}) failed: ${run.error ?? 'unknown error'}`,
        );
        return { enqueued, done: true };
      default:
        // RUNNING: in flight (the reaper re-queues it if its worker dies); COMPLETE/CANCELLED: nothing to do.
        break;
    }
  }
  return { enqueued, done: false };
}

function trainPayload(searchId: string, run: RunSummary, a: TrainAction) {
  return {
    searchId,
    runId: run.id,
    candidate: a.candidate,
    seedIndex: a.seedIndex,
    seed: a.seed,
    keys: [...a.keys],
    fromTask: a.fromTask,
    toTask: a.toTask,
    rung: a.rung,
  };
}

/** Whether some other chunk of the run is still waiting, delayed or active in the queue. */
async function queuedJobOf(queues: Queues, runId: string): Promise<boolean> {
  const jobs = await queues.train.getJobs(['waiting', 'delayed', 'active', 'prioritized'], 0, 10_000);
  return jobs.some((j) => (j.data as { runId?: string } | undefined)?.runId === runId);
}

async function failSearch(ctx: ControllerContext, searchId: string, error: string): Promise<void> {
  ctx.log?.(`search ${searchId}: FAILED: ${error}`);
  await ctx.store.controller.setSearchState(searchId, 'FAILED', error);
}
