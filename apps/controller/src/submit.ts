import type { SearchRecord, Store } from '@ip2/db';
import type { Queues } from '@ip2/contracts';

export interface SubmitOptions {
  /** The same (owner, key) returns the search created first. */
  readonly idempotencyKey?: string;
}

/**
 * Creates a search with its candidates and runs in the database and asks the controller to start it.
 * The definition is validated (SearchDefinitionError when it is not a valid one).
 */
export async function submitSearch(
  deps: { readonly store: Store; readonly queues: Queues },
  definition: unknown,
  owner: string,
  options: SubmitOptions = {},
): Promise<SearchRecord> {
  const { search } = await deps.store.searches.create(owner, {
    definition,
    ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
  });
  await deps.queues.addAdvance(search.id, 'submitted');
  return search;
}
