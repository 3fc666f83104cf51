import { parseSearchDefinition } from '@ip2/search';
import { definitionFromFlags, type DefinitionFlags } from '../definition.js';
import { parseFlag, positiveInt, UsageError } from '../errors.js';
import { connect, type ConnectionFlags } from '../server/client.js';
import type { SearchView } from '../server/types.js';
import { watchSearch } from './watch.js';

/** The flags of `ip2 submit`: those of `ip2 search` that define the search, and where to send it. */
export interface SubmitFlags extends DefinitionFlags, ConnectionFlags {
  idempotencyKey?: string;
  watch?: boolean;
  quiet?: boolean;
  retries?: string;
}

/**
 * `ip2 submit`: builds the search definition exactly as `ip2 search` does and submits it to the server
 * (POST /v1/searches); prints the search id and its links, and with --watch follows it to its decision.
 */
export async function runSubmit(f: SubmitFlags, signal?: AbortSignal): Promise<number> {
  const input = definitionFromFlags(f);
  const definition = parseFlag('search', () => parseSearchDefinition(input));
  const retries = positiveInt('--retries', f.retries, 1000) ?? 30;
  const key = f.idempotencyKey;
  if (key !== undefined && !/^[\x21-\x7e]{1,200}$/.test(key)) {
    throw new UsageError('--idempotency-key: 1–200 printable ASCII characters without spaces');
  }
  const client = connect(f);
  const res = await client.request(
    '/v1/searches',
    { method: 'POST', body: definition, headers: key === undefined ? {} : { 'idempotency-key': key } },
    'submit',
  );
  const search = (await res.json()) as SearchView;
  const repeated = res.status === 200;
  process.stdout.write(
    [
      search.id,
      `search ${search.id} ${repeated ? 'already submitted with this --idempotency-key' : 'submitted'} (${search.state.toLowerCase()}): ${search.family}, space [${definition.space.join(', ')}], ${definition.strategy.kind}, ${search.plannedTaskTrainings} task trainings planned`,
      `  status  ${client.url(`/v1/searches/${search.id}`)}`,
      `  events  ${client.url(`/v1/searches/${search.id}/events`)}`,
      `  report  ${client.url(`/v1/searches/${search.id}/report`)}`,
      `  results ${client.url(`/v1/searches/${search.id}/results?format=csv`)}`,
      f.watch ? '' : `follow it with: ip2 watch ${search.id}`,
      '',
    ]
      .filter((l, i, all) => l !== '' || i === all.length - 1)
      .join('\n'),
  );
  if (!f.watch) return 0;
  return watchSearch(client, search, { quiet: f.quiet === true, retries, ...(signal ? { signal } : {}) });
}
