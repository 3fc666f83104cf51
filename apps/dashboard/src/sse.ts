import { ApiError, authHeaders } from './api.js';

export interface StreamEvent {
  readonly event: string;
  readonly data: string;
  readonly id: string | null;
}

export interface StreamOptions {
  readonly onEvent: (e: StreamEvent) => void;
  /** Connection state for display: 'open', 'reconnecting', 'closed' or an error message. */
  readonly onStatus?: (status: string) => void;
  /** Events after which the stream is over (no reconnect). */
  readonly endEvents?: readonly string[];
}

/**
 * Reads lines of a text/event-stream body and dispatches its events (the WHATWG rules: `event`,
 * `data` lines joined with newlines, `id`, `retry`, comments ignored). As in the standard, an `id` takes
 * effect when its event is complete (the blank line after it): an event cut off by a dropped connection
 * neither counts nor moves `lastId`, and `reset()` drops what is left of it before the next connection.
 */
export class EventStreamParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private idBuffer: string | null = null;
  /** The id of the last complete event: what a reconnection sends as Last-Event-ID. */
  lastId: string | null = null;
  retryMs: number | null = null;

  constructor(private readonly dispatch: (e: StreamEvent) => void) {}

  push(chunk: string): void {
    this.buffer += chunk;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  /** Forgets a partly received event (a new connection starts at an event boundary). */
  reset(): void {
    this.buffer = '';
    this.event = '';
    this.data = [];
    this.idBuffer = this.lastId;
  }

  private line(line: string): void {
    if (line === '') {
      this.lastId = this.idBuffer;
      if (this.data.length > 0) {
        this.dispatch({ event: this.event || 'message', data: this.data.join('\n'), id: this.lastId });
      }
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.idBuffer = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
  }
}

/**
 * Server-Sent Events over fetch, so that the request can carry the Authorization header (EventSource
 * cannot). A dropped connection is resumed with Last-Event-ID; a 4xx answer or an end event stops it.
 * Returns a function that closes the stream.
 */
export function openEventStream(path: string, options: StreamOptions): () => void {
  const controller = new AbortController();
  const endEvents = options.endEvents ?? ['end'];
  let ended = false;
  const parser = new EventStreamParser((e) => {
    if (endEvents.includes(e.event)) ended = true;
    options.onEvent(e);
  });

  const loop = async () => {
    let failures = 0;
    while (!ended && !controller.signal.aborted) {
      try {
        parser.reset();
        const headers = authHeaders({ accept: 'text/event-stream' });
        if (parser.lastId !== null) headers['last-event-id'] = parser.lastId;
        const res = await fetch(path, { headers, signal: controller.signal, cache: 'no-store' });
        if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          let detail = `${res.status} ${res.statusText}`;
          try {
            detail = ((await res.json()) as { detail?: string }).detail ?? detail;
          } catch {
            // not problem+json
          }
          throw new ApiError(res.status, null, detail);
        }
        if (!res.ok || res.body === null) throw new Error(`${res.status} ${res.statusText}`);
        options.onStatus?.('open');
        failures = 0;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.push(value);
        }
      } catch (e) {
        if (controller.signal.aborted) return;
        if (e instanceof ApiError) {
          options.onStatus?.(e.message);
          return;
        }
        failures += 1;
      }
      if (ended || controller.signal.aborted) break;
      options.onStatus?.('reconnecting');
      const wait = Math.min(30_000, (parser.retryMs ?? 1000) * 2 ** Math.min(failures, 5));
      await new Promise((r) => setTimeout(r, wait));
    }
    options.onStatus?.('closed');
  };
  void loop();
  return () => controller.abort();
}
