/** What the phases measure with: process memory, submissions by autocannon, event streams. */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import autocannon from 'autocannon';
import { mean } from '../stats.js';
import { definition, type LoadStack } from './stack.js';

export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export const finite = (xs: readonly number[]) => xs.filter((x) => Number.isFinite(x));

/** Least-squares slope of y over x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}

export interface Submissions {
  readonly requests: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly codes: string;
}

/** POST /v1/searches from `connections` clients for `seconds` (at most `rate` requests/s overall if given). */
export async function submissions(
  stack: LoadStack,
  o: { connections: number; seconds: number; rate?: number; seedFrom: number },
): Promise<Submissions> {
  let seed = o.seedFrom;
  let nextKey = 0;
  const r = await autocannon({
    url: stack.base,
    connections: o.connections,
    duration: o.seconds,
    ...(o.rate === undefined ? {} : { overallRate: o.rate }),
    requests: [
      {
        method: 'POST',
        path: '/v1/searches',
        headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
        // A different definition each time (no Idempotency-Key either): every request creates a search.
        // Each connection (its context) submits with its own key, the keys dealt round-robin.
        setupRequest: (req, context: { key?: string }) => {
          context.key ??= stack.apiKeys[nextKey++ % stack.apiKeys.length]!;
          return {
            ...req,
            headers: { ...req.headers, authorization: `Bearer ${context.key}` },
            body: JSON.stringify(definition(seed++, { keys: 1, seeds: 1, tasks: 2 })),
          };
        },
      },
    ],
  });
  const codes = Object.entries(r.statusCodeStats ?? {})
    .map(([code, s]) => `${code}: ${(s as { count: number }).count}`)
    .join(', ');
  return {
    requests: r.requests.total,
    perSecond: r.requests.average,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    codes,
  };
}

export interface Stream {
  req: ClientRequest;
  status: number;
  events: number;
  tasks: number;
  ended: boolean;
  closedAt: number | null;
  error: string | null;
}

/** Opens an SSE stream and counts its events. */
export function openStream(stack: LoadStack, searchId: string): Stream {
  const s: Stream = {
    req: undefined as never,
    status: 0,
    events: 0,
    tasks: 0,
    ended: false,
    closedAt: null,
    error: null,
  };
  const url = new URL(`/v1/searches/${searchId}/events`, stack.base);
  s.req = httpRequest(
    url,
    { headers: { authorization: `Bearer ${stack.apiKey}`, accept: 'text/event-stream' } },
    (res) => {
      s.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        // Each complete block (up to a blank line) is one event; the rest waits for the next chunk.
        let from = 0;
        let i: number;
        while ((i = buffer.indexOf('\n\n', from)) >= 0) {
          const at = buffer.indexOf('event: ', from);
          if (at >= 0 && at < i) {
            const event = buffer.slice(at + 7, buffer.indexOf('\n', at));
            s.events += 1;
            if (event === 'task') s.tasks += 1;
            if (event === 'end') s.ended = true;
          }
          from = i + 2;
        }
        buffer = buffer.slice(from);
      });
      res.on('close', () => (s.closedAt ??= Date.now()));
    },
  );
  s.req.on('error', (e) => {
    s.error ??= e.message;
    s.closedAt ??= Date.now();
  });
  s.req.end();
  return s;
}
