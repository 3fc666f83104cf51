import type { FixedConfig } from '@ip2/search';

/** A search as GET /v1/searches/{id} returns it (the fields the CLI reads). */
export interface SearchView {
  readonly id: string;
  readonly state: string;
  readonly family: string;
  readonly definition: unknown;
  readonly plannedTaskTrainings: number;
  readonly error: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly links: Record<string, string>;
}

export interface FixedConfigView {
  readonly id: string;
  readonly family: string;
  readonly version: number;
  /** The version of the model's defaults it was measured under (absent from servers that predate it). */
  readonly modelVersion?: number;
  readonly hash: string;
  readonly searchId: string | null;
  readonly record: FixedConfig;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isSearchId(id: string): boolean {
  return UUID.test(id);
}
