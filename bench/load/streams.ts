/** Phase 2: event streams held while submissions go on; the API's memory over time. */
import { sleep } from '../../test/support/stack.js';
import { mean } from '../stats.js';
import { finite, openStream, rssMiB, slope, submissions, type Submissions } from './measure.js';
import { STREAM_S, STREAMS } from './options.js';
import { definition, newStack } from './stack.js';

export interface Sample {
  /** Seconds since the streams were open. */
  readonly t: number;
  /** The API's resident memory. */
  readonly mib: number;
  /** Task events received by all streams so far. */
  readonly tasks: number;
  /** Time for GET /metrics (no database), started at t; NaN when it took over 5 s. */
  healthMs: number;
  /** V8 heap in use (ip2_api_nodejs_heap_size_used_bytes of /metrics). */
  heapMiB: number;
  /** Stream output the API holds unread by the clients (ip2_api_event_buffered_bytes). */
  bufferedMiB: number;
  /** Streams the API closed because their client did not keep up, so far. */
  dropped: number;
}

export interface StreamPhase {
  readonly opened: number;
  readonly openAtEnd: number;
  /** Streams that got `end` within the window (their search finished): not a failure, but not held. */
  readonly endedEarly: number;
  readonly withTaskEvents: number;
  readonly events: number;
  readonly taskEvents: number;
  readonly endedAfterCancel: number;
  readonly submissions: Submissions;
  readonly samples: readonly Sample[];
  readonly firstThird: number;
  readonly lastThird: number;
  /** Lowest sample of the first and the last third: the floor the garbage collector returns to. */
  readonly firstFloor: number;
  readonly lastFloor: number;
  readonly slopePerMin: number;
  /** Trend of the lowest RSS of each 10 s (what the collector returns to), and of the V8 heap in use. */
  readonly floorSlopePerMin: number;
  readonly heapSlopePerMin: number;
  readonly maxBufferedMiB: number;
  readonly dropped: number;
}

export async function phaseStreams(): Promise<StreamPhase> {
  const stack = await newStack();
  const pid = await stack.startApi();
  stack.startController();
  // Two searches of 16 runs × (4 per second of the window, at least 60) tasks each, trained by two
  // workers of two slots: task events flow throughout (they outlast the window, even on a quiet
  // machine, and are cancelled at its end).
  const tasks = Math.max(60, 4 * STREAM_S);
  const watched = [
    await stack.submit(definition(7, { keys: 1, seeds: 8, tasks })),
    await stack.submit(definition(8, { keys: 1, seeds: 8, tasks })),
  ];
  await stack.startWorkers(2, 2);
  const streams = Array.from({ length: STREAMS }, (_, i) => openStream(stack, watched[i % watched.length]!));
  const until = Date.now() + 30_000;
  while (streams.some((s) => s.status === 0 && s.closedAt === null) && Date.now() < until) await sleep(100);
  const opened = streams.filter((s) => s.status === 200).length;

  const samples: Sample[] = [];
  const t0 = Date.now();
  const sampler = setInterval(() => {
    const sample: Sample = {
      t: (Date.now() - t0) / 1000,
      mib: rssMiB(pid),
      tasks: streams.reduce((n, s) => n + s.tasks, 0),
      healthMs: Number.NaN,
      heapMiB: Number.NaN,
      bufferedMiB: Number.NaN,
      dropped: Number.NaN,
    };
    samples.push(sample);
    const asked = performance.now();
    fetch(`${stack.base}/metrics`, { signal: AbortSignal.timeout(5_000) })
      .then((r) => (r.ok ? r.text() : ''))
      .then(
        (text) => {
          const heap = /^ip2_api_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1];
          if (heap === undefined) return;
          sample.healthMs = performance.now() - asked;
          sample.heapMiB = Number(heap) / 2 ** 20;
          const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
          sample.bufferedMiB = metric('ip2_api_event_buffered_bytes') / 2 ** 20;
          sample.dropped = metric('ip2_api_event_streams_dropped_total');
        },
        () => undefined,
      );
  }, 1000);
  // Submissions go on at a steady 20 per second from 10 clients while the streams are held.
  const sub = await submissions(stack, { connections: 10, seconds: STREAM_S, rate: 20, seedFrom: 2_000_000 });
  clearInterval(sampler);
  const openAtEnd = streams.filter((s) => s.status === 200 && s.closedAt === null).length;
  const endedEarly = streams.filter((s) => s.ended).length;
  const withTaskEvents = streams.filter((s) => s.tasks > 0).length;
  const events = streams.reduce((n, s) => n + s.events, 0);
  const taskEvents = streams.reduce((n, s) => n + s.tasks, 0);

  // Cancelling the watched searches ends their streams with an `end` event.
  for (const id of watched) await stack.cancel(id);
  const endBy = Date.now() + 15_000;
  while (streams.some((s) => !s.ended && s.closedAt === null) && Date.now() < endBy) await sleep(200);
  const endedAfterCancel = streams.filter((s) => s.ended).length;
  for (const s of streams) s.req.destroy();
  await stack.close();

  const third = Math.max(1, Math.floor(samples.length / 3));
  const floors: { t: number; mib: number }[] = [];
  for (let i = 0; i < samples.length; i += 10) {
    const b = samples.slice(i, i + 10);
    const low = b.reduce((a, x) => (x.mib < a.mib ? x : a));
    floors.push({ t: low.t, mib: low.mib });
  }
  const heap = samples.filter((s) => Number.isFinite(s.heapMiB));
  return {
    opened,
    openAtEnd,
    endedEarly,
    withTaskEvents,
    events,
    taskEvents,
    endedAfterCancel,
    submissions: sub,
    samples,
    firstThird: mean(samples.slice(0, third).map((s) => s.mib)),
    lastThird: mean(samples.slice(-third).map((s) => s.mib)),
    firstFloor: Math.min(...samples.slice(0, third).map((s) => s.mib)),
    lastFloor: Math.min(...samples.slice(-third).map((s) => s.mib)),
    slopePerMin:
      slope(
        samples.map((s) => s.t),
        samples.map((s) => s.mib),
      ) * 60,
    floorSlopePerMin:
      slope(
        floors.map((f) => f.t),
        floors.map((f) => f.mib),
      ) * 60,
    heapSlopePerMin:
      slope(
        heap.map((s) => s.t),
        heap.map((s) => s.heapMiB),
      ) * 60,
    maxBufferedMiB: Math.max(0, ...finite(samples.map((s) => s.bufferedMiB))),
    dropped: Math.max(0, ...finite(samples.map((s) => s.dropped))),
  };
}
