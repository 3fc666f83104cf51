import {
  NotFoundError,
  TERMINAL_SEARCH_STATES,
  type ResultCursor,
  type SearchRecord,
  type Store,
  type StreamedResult,
} from '@ip2/db';
import { taskView, type SearchEvents, type StateEvent } from '@ip2/contracts/http';
import { candidateView } from './views.js';

const BATCH = 500;
const KEEPALIVE_MS = 15_000;
/** Task events are written in chunks of about this many bytes (fewer, larger writes per stream). */
const CHUNK_BYTES = 16_384;

/** Where a subscriber's events go: a writable byte stream (the HTTP response). */
export interface EventSink {
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  removeListener(event: 'drain' | 'close', listener: () => void): unknown;
  readonly writableLength: number;
}

/** What the hub holds right now (exported as metrics). */
export interface EventHubStats {
  /** Searches polled. */
  readonly feeds: number;
  /** Open streams. */
  readonly streams: number;
  /** Output written to the streams and not yet taken by their clients, plus events held during replays. */
  readonly bufferedBytes: number;
  /** Streams closed since the start because their client did not keep up. */
  readonly dropped: number;
}

export interface EventHubOptions {
  readonly store: Store;
  readonly pollMs: number;
  readonly graceMs: number;
  /** A subscriber whose unsent output exceeds this many bytes is dropped (its stream closed). */
  readonly maxBufferedBytes: number;
  readonly onError?: (err: unknown, searchId: string) => void;
  readonly onDrop?: (searchId: string) => void;
}

interface Event {
  readonly text: string;
  /** The task event's id (positions in stream order, from 1); undefined for the other events. */
  readonly id?: number;
  /** The last event: the stream closes after it. */
  readonly last?: boolean;
}

function format<E extends keyof SearchEvents>(event: E, data: SearchEvents[E], id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Consecutive events joined into strings of about `bytes` each (at least one event per string): one
 * write per chunk instead of one per event.
 */
function chunked(events: readonly Event[], bytes: number): string[] {
  const out: string[] = [];
  let parts: string[] = [];
  let size = 0;
  for (const e of events) {
    if (size > 0 && size + e.text.length > bytes) {
      out.push(parts.join(''));
      parts = [];
      size = 0;
    }
    parts.push(e.text);
    size += e.text.length;
  }
  if (size > 0) out.push(parts.join(''));
  return out;
}

/** A task event: the run it belongs to, then the task's fields exactly as the REST task view has them. */
function taskEvent(r: StreamedResult, id: number): Event {
  return {
    id,
    text: format('task', { runId: r.runId, candidate: r.candidate, seedIndex: r.seedIndex, ...taskView(r) }, id),
  };
}

/** One client of a feed. */
export class Subscriber {
  /** The id of the last task event this subscriber has (sent or skipped as already known). */
  after: number;
  closed = false;
  lastWrite = Date.now();
  /** Events that arrived while the replay from the database ran; delivered after it. */
  private pending: Event[] | null = null;
  private pendingBytes = 0;

  constructor(
    private readonly sink: EventSink,
    after: number,
    private readonly maxBytes: number,
    private readonly onDrop: () => void,
  ) {
    this.after = after;
  }

  get replaying(): boolean {
    return this.pending !== null;
  }

  /** Bytes this subscriber holds: its stream's unsent output and the events kept during its replay. */
  get bufferedBytes(): number {
    return this.sink.writableLength + this.pendingBytes;
  }

  /** Writes a run of task events, ids after + 1, after + 2, ..., already joined into chunks. */
  writeRun(chunks: readonly string[], lastId: number): void {
    this.after = lastId;
    for (const c of chunks) {
      if (this.closed) return;
      this.write(c);
    }
  }

  /**
   * Waits until the client has taken most of what was written (at most half the bound left unsent),
   * or the stream closed: a replay of a long history goes at the client's pace instead of being dropped.
   */
  async drained(): Promise<void> {
    if (this.closed || this.sink.writableLength <= this.maxBytes / 2) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.sink.removeListener('drain', done);
        this.sink.removeListener('close', done);
        resolve();
      };
      this.sink.once('drain', done);
      this.sink.once('close', done);
    });
  }

  startReplay(): void {
    this.pending = [];
  }

  /** Delivers the events held during the replay (task events the replay already sent are skipped). */
  finishReplay(): void {
    const held = this.pending ?? [];
    this.pending = null;
    this.pendingBytes = 0;
    for (const e of held) this.deliver(e);
  }

  deliver(e: Event): void {
    if (this.closed) return;
    if (this.pending !== null) {
      this.pending.push(e);
      this.pendingBytes += e.text.length;
      if (this.pendingBytes > this.maxBytes) this.drop();
      return;
    }
    if (e.id !== undefined) {
      if (e.id <= this.after) return;
      this.after = e.id;
    }
    this.write(e.text);
    if (e.last) this.close();
  }

  write(text: string): void {
    if (this.closed) return;
    this.lastWrite = Date.now();
    this.sink.write(text);
    if (this.sink.writableLength > this.maxBytes) this.drop();
  }

  /** Ends the stream normally. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sink.end();
  }

  /** A client that does not keep up: its stream is ended and its socket freed, with what it buffered. */
  drop(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = null;
    this.onDrop();
    this.sink.end();
    this.sink.destroy();
  }
}

/**
 * One search's poll of the database, shared by all its subscribers. It numbers the task results of
 * the search from the first (the ids that Last-Event-ID resumes after) and hands each event to every
 * subscriber; a subscriber that joins later first gets its missed results from the database.
 */
class Feed {
  readonly subscribers = new Set<Subscriber>();
  /** Task results emitted so far: the id of the last. */
  seq = 0;
  private cursor: ResultCursor | null = null;
  private candidatesEvent: Event | null = null;
  private stateEvent: Event | null = null;
  private lastCandidates = '';
  private lastState = '';
  private wake: (() => void) | undefined;
  stopped = false;
  polls = 0;

  constructor(
    private readonly hub: EventHub,
    readonly owner: string,
    readonly searchId: string,
  ) {}

  add(s: Subscriber): void {
    this.subscribers.add(s);
    if (s.after < this.seq) {
      void this.replay(s);
    } else {
      this.greet(s);
    }
  }

  remove(s: Subscriber): void {
    this.subscribers.delete(s);
    if (this.subscribers.size === 0) this.stop();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** The latest candidates and state, for a subscriber that joins after they were sent. */
  private greet(s: Subscriber): void {
    if (this.candidatesEvent !== null) s.write(this.candidatesEvent.text);
    if (this.stateEvent !== null) s.write(this.stateEvent.text);
  }

  /** Sends the results after `s.after` up to the feed's position from the database, then the live feed. */
  private async replay(s: Subscriber): Promise<void> {
    const { store } = this.hub.options;
    const target = this.seq;
    s.startReplay();
    try {
      let cursor = await store.monitor.cursorAt(this.searchId, s.after);
      let n = s.after;
      while (n < target && !s.closed) {
        const rows = await store.monitor.resultsAfter(this.searchId, cursor, null, Math.min(BATCH, target - n));
        if (rows.length === 0) break;
        const events = rows.map((r) => taskEvent(r, ++n));
        const last = rows.at(-1)!;
        cursor = { ms: last.ms, runId: last.runId, taskIndex: last.taskIndex };
        for (const c of chunked(events, this.hub.chunkBytes)) {
          if (s.closed) break;
          s.write(c);
          await s.drained();
        }
      }
      s.after = Math.max(s.after, n);
      this.greet(s);
      s.finishReplay();
    } catch (err) {
      this.hub.options.onError?.(err, this.searchId);
      s.write(format('error', { detail: 'the progress stream failed; reconnect to resume' }));
      s.close();
      this.remove(s);
    }
  }

  private broadcast(e: Event): void {
    for (const s of this.subscribers) s.deliver(e);
  }

  /**
   * A poll's task events, ids seq0 + 1 ... seq0 + n, to every subscriber. Those that have everything
   * up to seq0 (nearly all) get the same chunks, joined once; the others get the events one by one.
   */
  private broadcastTasks(events: readonly Event[]): void {
    if (events.length === 0) return;
    const before = events[0]!.id! - 1;
    const lastId = events.at(-1)!.id!;
    let chunks: string[] | null = null;
    for (const s of this.subscribers) {
      if (!s.replaying && s.after === before) {
        chunks ??= chunked(events, this.hub.chunkBytes);
        s.writeRun(chunks, lastId);
      } else {
        for (const e of events) s.deliver(e);
      }
    }
  }

  async run(): Promise<void> {
    const { store, pollMs, graceMs } = this.hub.options;
    try {
      let search: SearchRecord | null = await this.fetch();
      while (search !== null && !this.stopped) {
        this.polls += 1;
        const terminal = TERMINAL_SEARCH_STATES.includes(search.state);
        // A finished search gets no more results: everything is sent, without holding any back.
        for (;;) {
          const rows = await store.monitor.resultsAfter(this.searchId, this.cursor, terminal ? null : graceMs, BATCH);
          const events = rows.map((r) => taskEvent(r, ++this.seq));
          const last = rows.at(-1);
          if (last !== undefined) this.cursor = { ms: last.ms, runId: last.runId, taskIndex: last.taskIndex };
          this.broadcastTasks(events);
          if (rows.length < BATCH || this.stopped) break;
        }
        // Caught up: an id past the end of the stream resumes at its end.
        for (const s of this.subscribers) if (!s.replaying && s.after > this.seq) s.after = this.seq;
        const candidates = await store.searches.candidates(this.owner, this.searchId);
        const views = candidates.map((c) => candidateView(this.searchId, c));
        const summary = JSON.stringify(views.map((c) => [c.bits, c.state, c.rung, c.score]));
        if (summary !== this.lastCandidates) {
          this.lastCandidates = summary;
          this.candidatesEvent = {
            text: format('candidates', {
              items: views.map((c) => ({ id: c.id, bits: c.bits, state: c.state, rung: c.rung, score: c.score })),
            }),
          };
          this.broadcast(this.candidatesEvent);
        }
        const tasksDone = candidates.reduce((n, c) => n + c.runs.reduce((m, r) => m + r.tasksDone, 0), 0);
        const state = JSON.stringify([search.state, search.error, tasksDone]);
        if (state !== this.lastState) {
          this.lastState = state;
          this.stateEvent = { text: format('state', stateView(search, tasksDone)) };
          this.broadcast(this.stateEvent);
        }
        if (terminal) {
          this.finish({ text: format('end', { id: this.searchId, state: search.state }), last: true });
          return;
        }
        const now = Date.now();
        for (const s of this.subscribers) if (now - s.lastWrite > KEEPALIVE_MS) s.write(': keep-alive\n\n');
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, pollMs);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
        if (this.stopped) break;
        search = await this.fetch();
      }
      if (search === null) this.finish({ text: format('end', { id: this.searchId, state: 'DELETED' }), last: true });
    } catch (err) {
      this.hub.options.onError?.(err, this.searchId);
      this.finish({ text: format('error', { detail: 'the progress stream failed; reconnect to resume' }), last: true });
    } finally {
      this.stopped = true;
      this.hub.retire(this);
    }
  }

  private async fetch(): Promise<SearchRecord | null> {
    try {
      return await this.hub.options.store.searches.get(this.owner, this.searchId);
    } catch (e) {
      if (e instanceof NotFoundError) return null;
      throw e;
    }
  }

  /** The last event to everyone; subscribers still replaying get it after their replay. */
  private finish(e: Event): void {
    this.broadcast(e);
  }
}

/**
 * The progress streams of the API process: one database poll per search (per owner and search id),
 * shared by all the clients that follow it. The poll starts with the first subscriber and stops with
 * the last; memory per subscriber is bounded by `maxBufferedBytes`.
 */
export class EventHub {
  private readonly feeds = new Map<string, Feed>();
  /** Feeds started since the hub was created (for tests and diagnostics). */
  feedsStarted = 0;
  private dropped = 0;
  /** Size of the chunks task events are written in: small next to the buffer bound. */
  readonly chunkBytes: number;

  constructor(readonly options: EventHubOptions) {
    this.chunkBytes = Math.max(1, Math.min(CHUNK_BYTES, Math.floor(options.maxBufferedBytes / 4)));
  }

  stats(): EventHubStats {
    let streams = 0;
    let bufferedBytes = 0;
    for (const feed of this.feeds.values()) {
      for (const s of feed.subscribers) {
        streams += 1;
        bufferedBytes += s.bufferedBytes;
      }
    }
    return { feeds: this.feeds.size, streams, bufferedBytes, dropped: this.dropped };
  }

  /**
   * Follows a search for a client that has the task events up to `after`. The caller checked the
   * search belongs to `owner`. Returns the function that unsubscribes (call it when the client leaves).
   */
  subscribe(owner: string, searchId: string, after: number, sink: EventSink): () => void {
    const key = `${owner}\u0000${searchId}`;
    let feed = this.feeds.get(key);
    if (feed === undefined || feed.stopped) {
      feed = new Feed(this, owner, searchId);
      this.feeds.set(key, feed);
      this.feedsStarted += 1;
      void feed.run();
    }
    const f = feed;
    const s: Subscriber = new Subscriber(sink, after, this.options.maxBufferedBytes, () => {
      this.dropped += 1;
      this.options.onDrop?.(searchId);
      f.remove(s);
    });
    f.add(s);
    return () => {
      f.remove(s);
      s.close();
    };
  }

  /** Searches followed right now. */
  get activeFeeds(): number {
    return this.feeds.size;
  }

  retire(feed: Feed): void {
    const key = `${feed.owner}\u0000${feed.searchId}`;
    if (this.feeds.get(key) === feed) this.feeds.delete(key);
  }

  /** Stops every poll and ends every stream. */
  close(): void {
    for (const feed of this.feeds.values()) {
      for (const s of feed.subscribers) s.close();
      feed.subscribers.clear();
      feed.stop();
    }
    this.feeds.clear();
  }
}

function stateView(s: SearchRecord, tasksDone: number): StateEvent {
  return {
    id: s.id,
    state: s.state,
    error: s.error,
    tasksDone,
    startedAt: s.startedAt?.toISOString() ?? null,
    finishedAt: s.finishedAt?.toISOString() ?? null,
  };
}
