import type { TaskResult } from '@ip2/l2l';
import { parseStoredSearchDefinition, propertyImportance, standings, tableFromRows } from '@ip2/search';
import { parseTasksJson } from '@ip2/report';
import { positiveInt, UsageError } from '../errors.js';
import { progressBar } from '../progress.js';
import { connect, ServerError, type ApiClient, type ConnectionFlags } from '../server/client.js';
import { followEvents } from '../server/follow.js';
import { isSearchId, type FixedConfigView, type SearchView } from '../server/types.js';
import { summaryLines } from '../summary.js';

export interface WatchFlags extends ConnectionFlags {
  quiet?: boolean;
  retries?: string;
}

export function checkSearchId(id: string): string {
  if (!isSearchId(id)) throw new UsageError(`<id>: '${id}' is not a search id (a UUID, as ip2 submit prints it)`);
  return id.toLowerCase();
}

/** `ip2 watch <id>`: a progress bar from the event stream until the search ends; then its decision. */
export async function runWatch(id: string, f: WatchFlags, signal?: AbortSignal): Promise<number> {
  const sid = checkSearchId(id);
  const retries = positiveInt('--retries', f.retries, 1000) ?? 30;
  const client = connect(f);
  const search = await client.json<SearchView>(`/v1/searches/${sid}`, {}, `search ${sid}`);
  return watchSearch(client, search, { quiet: f.quiet === true, retries, ...(signal ? { signal } : {}) });
}

export interface WatchOptions {
  readonly quiet: boolean;
  readonly retries: number;
  readonly signal?: AbortSignal;
}

/** Follows a search to its end; 0 when it completed (its decision printed), 1 when it failed or was cancelled. */
export async function watchSearch(client: ApiClient, search: SearchView, o: WatchOptions): Promise<number> {
  const id = search.id;
  const planned = search.plannedTaskTrainings;
  const bar = progressBar(
    planned,
    `search ${id.slice(0, 8)} |{bar}| {value}/{total} task trainings | {state} | candidates {alive}/{candidates} | {eta_formatted}`,
    o.quiet,
  );
  let done = 0;
  let state = search.state;
  let alive = 0;
  let candidates = 0;
  let lastLog = 0;
  const update = (force = false) => {
    bar.update(done, { state, alive, candidates });
    if (force || Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      bar.log(`${done}/${planned} task trainings, ${state.toLowerCase()}, ${alive}/${candidates} candidates alive`);
    }
  };
  bar.log(`following search ${id} (${state.toLowerCase()}) on ${client.base.origin}`);
  let end: Awaited<ReturnType<typeof followEvents>>;
  try {
    end = await followEvents(
      client,
      id,
      {
        onTask: (n) => {
          done = n;
          update(n === planned);
        },
        onState: (s) => {
          const changed = s.state !== state;
          state = s.state;
          if (changed) update(true);
        },
        onCandidates: (items) => {
          candidates = items.length;
          alive = items.filter((c) => c.state !== 'PRUNED' && c.state !== 'FAILED').length;
        },
        onReconnect: (lastId, reason, delayMs) =>
          bar.log(
            `event stream lost (${reason}); reconnecting in ${delayMs} ms with Last-Event-ID ${lastId ?? '(none)'}`,
          ),
      },
      { retries: o.retries, ...(o.signal ? { signal: o.signal } : {}) },
    );
  } catch (e) {
    bar.stop();
    if (o.signal?.aborted) {
      process.stderr.write(`ip2: stopped watching; search ${id} goes on (ip2 watch ${id} to follow it again)\n`);
      return 130;
    }
    throw e;
  }
  update(true);
  bar.stop();
  const final = await client.json<SearchView>(`/v1/searches/${id}`, {}, `search ${id}`);
  if (end.state === 'DELETED') throw new ServerError(`search ${id} was deleted while it was watched`);
  if (final.state !== 'COMPLETE') {
    process.stderr.write(
      `ip2: search ${id} ended ${final.state}${final.error ? `: ${final.error}` : ''} after ${done} task trainings (its results are kept)\n`,
    );
    return 1;
  }
  await printDecision(client, final);
  return 0;
}

/** The server's fixed configuration of a finished search, and the candidate table from its results. */
async function printDecision(client: ApiClient, search: SearchView): Promise<void> {
  const id = search.id;
  const definition = parseStoredSearchDefinition(search.definition);
  const [tasks, configs] = await Promise.all([
    client.text(`/v1/searches/${id}/results?format=json`, `search ${id}`),
    client.json<{ items: FixedConfigView[] }>(`/v1/configs?family=${encodeURIComponent(search.family)}`, {}, 'configs'),
  ]);
  const config = configs.items.find((c) => c.searchId === id);
  if (config === undefined)
    throw new ServerError(`search ${id} is COMPLETE but the server has no fixed configuration for it`);
  const rows = parseTasksJson(tasks);
  const table = tableFromRows(rows);
  const tables = standings(definition, table);
  const importance = propertyImportance(definition, table);
  // tasks.json rows are the whole task results, flattened beside their candidate and seed.
  const records = rows.map((r) => ({
    candidate: r.candidate,
    seedIndex: r.seedIndex,
    result: r as unknown as TaskResult,
  }));
  const wall =
    search.startedAt && search.finishedAt
      ? (Date.parse(search.finishedAt) - Date.parse(search.startedAt)) / 1000
      : null;
  process.stdout.write(
    [
      ...summaryLines(definition, config.record, tables, importance, records),
      `fixed configuration ${config.record.hash.slice(0, 16)}… (${search.family} version ${config.version}, id ${config.id})`,
      `report  → ${client.url(`/v1/searches/${id}/report`)}`,
      `results → ${client.url(`/v1/searches/${id}/results?format=csv`)}${wall === null ? '' : `   (${wall.toFixed(0)} s)`}`,
      `download both: ip2 report ${id} --out results/${id}`,
      '',
    ].join('\n'),
  );
}
