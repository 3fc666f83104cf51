import type { SearchEvents, StateEvent, TaskEvent } from '@ip2/contracts/http';
import { createParser } from 'eventsource-parser';
import { UsageError } from '../errors.js';
import { ServerError, type ApiClient } from './client.js';

/** What the progress stream of a search says (see GET /v1/searches/{id}/events). */
export interface FollowHandlers {
  /** A task result; `n` is its event id (1, 2, ...): the number of results delivered so far. */
  onTask?(n: number, task: TaskEvent): void;
  onState?(state: StateEvent): void;
  onCandidates?(items: SearchEvents['candidates']['items']): void;
  /** The stream broke; it is opened again after `delayMs` with Last-Event-ID. */
  onReconnect?(lastEventId: string | undefined, reason: string, delayMs: number): void;
}

export interface FollowOptions {
  readonly signal?: AbortSignal;
  /** Reconnections in a row without a single event before giving up (default 30, about 30 s). */
  readonly retries?: number;
  /** Resume after this event id (as a reconnecting client does). */
  readonly lastEventId?: string;
}

/**
 * Follows a search's Server-Sent Events until its `end` event; a broken connection (network, server
 * restart, 5xx) is opened again after the server's `retry` delay with `Last-Event-ID`, so no task result
 * is missed or counted twice. A 4xx (bad key, unknown search) ends it at once. Returns the final state.
 */
export async function followEvents(
  client: ApiClient,
  id: string,
  h: FollowHandlers,
  o: FollowOptions = {},
): Promise<SearchEvents['end']> {
  const retries = o.retries ?? 30;
  let lastId = o.lastEventId;
  let retryMs = 1000;
  let failures = 0;
  for (;;) {
    let ended: SearchEvents['end'] | null = null;
    let reason = 'the stream closed before the search ended';
    try {
      const res = await client.request(
        `/v1/searches/${id}/events`,
        {
          headers: { accept: 'text/event-stream', ...(lastId === undefined ? {} : { 'last-event-id': lastId }) },
          ...(o.signal ? { signal: o.signal } : {}),
        },
        `search ${id}`,
      );
      const parser = createParser({
        onRetry: (ms) => {
          retryMs = ms;
        },
        onEvent: (e) => {
          failures = 0;
          if (e.id !== undefined) lastId = e.id;
          let data: unknown;
          try {
            data = JSON.parse(e.data);
          } catch {
            return;
          }
          if (e.event === 'task')
            h.onTask?.(Number(e.id), data as Parameters<NonNullable<FollowHandlers['onTask']>>[1]);
          else if (e.event === 'state') h.onState?.(data as Parameters<NonNullable<FollowHandlers['onState']>>[0]);
          else if (e.event === 'candidates') {
            h.onCandidates?.((data as SearchEvents['candidates']).items);
          } else if (e.event === 'end') ended = data as SearchEvents['end'];
          else if (e.event === 'error')
            reason = (data as Partial<SearchEvents['error']>).detail ?? 'the server reported an error';
        },
      });
      if (res.body === null) throw new ServerError('the server sent an empty event stream');
      const decoder = new TextDecoder();
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        if (ended) break;
      }
    } catch (e) {
      if (o.signal?.aborted || e instanceof UsageError) throw e;
      reason = e instanceof Error ? e.message : String(e);
    }
    if (ended) return ended;
    failures += 1;
    if (failures > retries) {
      throw new ServerError(
        `lost the event stream of search ${id} (${reason}); gave up after ${retries} reconnections`,
      );
    }
    h.onReconnect?.(lastId, reason, retryMs);
    await sleep(retryMs, o.signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('interrupted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('interrupted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
