import type { ApiKeyInfo, SearchRecord, Store } from '@ip2/db';
import type { ApiLimits } from './env.js';
import type { EventHub } from './event-hub.js';
import type { ReportCache } from './report-cache.js';

/** What the routes share: the repositories, the limits and the hook that starts a new search. */
export interface ApiContext {
  readonly store: Store;
  readonly limits: ApiLimits;
  /** Called after a search was stored (also for an idempotent repeat: asking twice is harmless). */
  readonly onSearchCreated: (search: SearchRecord) => Promise<void>;
  /** The progress streams: one database poll per followed search (see event-hub.ts and routes/events.ts). */
  readonly events: EventHub;
  /** Reports of COMPLETE searches made lately (see report-cache.ts). */
  readonly reports: ReportCache;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated key (null on the routes that need none). */
    apiKey: ApiKeyInfo | null;
  }
}

/** The owner of the request's key; only called behind the authentication hook. */
export function ownerOf(request: { apiKey: ApiKeyInfo | null }): string {
  if (request.apiKey === null) throw new Error('route is not behind authentication');
  return request.apiKey.owner;
}
