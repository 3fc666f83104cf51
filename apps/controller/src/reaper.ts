import type { ControllerContext } from './advance.js';

/**
 * The timer's work: runs whose worker stopped heart-beating go back to WAITING (their old claims
 * refused from now on), and every unfinished search is looked at again, which queues those runs
 * from their last checkpoint and catches any wake-up that was lost. An analysis still pending whose
 * job is no longer in the queue (lost with a Redis that kept nothing) is queued again.
 */
export async function tick(
  ctx: ControllerContext,
  staleMs: number,
): Promise<{ reaped: string[]; searches: number; analyses: string[] }> {
  const reaped = await ctx.store.runs.reapStale(staleMs);
  if (reaped.length > 0) ctx.log?.(`reaper: re-queued ${reaped.length} stale run(s): ${reaped.join(', ')}`);
  const searches = await ctx.store.controller.searchesIn(['QUEUED', 'RUNNING'], 1000);
  for (const s of searches) await ctx.queues.addAdvance(s.id, reaped.length > 0 ? 'reaper' : 'timer');
  const analyses: string[] = [];
  for (const a of await ctx.store.analyses.pending(100)) {
    const data = { searchId: a.searchId, seeds: a.seeds };
    if ((await ctx.queues.analyseState(data)) !== 'unknown') continue;
    await ctx.queues.addAnalyse(data);
    analyses.push(a.searchId);
  }
  if (analyses.length > 0) ctx.log?.(`reaper: re-queued the analysis of search(es) ${analyses.join(', ')}`);
  return { reaped, searches: searches.length, analyses };
}
