import { createParser } from 'eventsource-parser';
import { sleep } from './stack.js';

export interface ReceivedEvent {
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: string;
}

export interface FollowResult {
  readonly events: ReceivedEvent[];
  /** Connections opened after the first one. */
  readonly reconnects: number;
  /** The Last-Event-ID sent with each reconnection ('' when there was none yet). */
  readonly resumedFrom: string[];
}

/**
 * Follows a Server-Sent Events stream as a browser's EventSource does: on a dropped connection or a
 * refused one it waits and reconnects, sending the last event id received as `Last-Event-ID`, until an
 * `end` event arrives (or `signal` aborts).
 */
export async function followEvents(
  url: string,
  headers: Record<string, string>,
  options: { retryMs?: number; signal?: AbortSignal; onEvent?: (e: ReceivedEvent) => void } = {},
): Promise<FollowResult> {
  const events: ReceivedEvent[] = [];
  const resumedFrom: string[] = [];
  let lastId: string | undefined;
  let connections = 0;
  let ended = false;
  while (!ended && !options.signal?.aborted) {
    if (connections > 0) resumedFrom.push(lastId ?? '');
    connections++;
    try {
      const res = await fetch(url, {
        headers: {
          ...headers,
          accept: 'text/event-stream',
          ...(lastId === undefined ? {} : { 'last-event-id': lastId }),
        },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (res.status !== 200 || res.body === null) throw new Error(`HTTP ${res.status}`);
      const parser = createParser({
        onEvent: (e) => {
          if (e.id !== undefined) lastId = e.id;
          const got = { id: e.id, event: e.event, data: e.data };
          events.push(got);
          options.onEvent?.(got);
          if (e.event === 'end') ended = true;
        },
      });
      const decoder = new TextDecoder();
      for await (const chunk of res.body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
    } catch {
      // dropped or refused: reconnect below
    }
    if (!ended) await sleep(options.retryMs ?? 300);
  }
  return { events, reconnects: connections - 1, resumedFrom };
}
