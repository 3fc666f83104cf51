import { NotFoundError, TERMINAL_SEARCH_STATES, type ResultCursor, type SearchRecord } from '@ip2/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ownerOf, type ApiContext } from '../context.js';
import { HttpProblem, problemSchema } from '../problem.js';
import { eventsHeaderSchema, noQuerySchema, searchParamsSchema } from '../schemas.js';
import { candidateView, finite } from '../views.js';

const BATCH = 500;
const KEEPALIVE_MS = 15_000;

/**
 * Progress of a search as Server-Sent Events, from polling the database:
 * - `state` (no id): the search's state and progress; sent first, then on every change;
 * - `task` (id 1, 2, 3, ...): one task result of one run, in the order (written at, run, task index);
 * - `candidates` (no id): the candidates' states, rungs and scores, when any of them changes;
 * - `end` (no id): the search finished; the stream closes.
 * A client that reconnects with `Last-Event-ID: n` gets the task results from n + 1 on. While the
 * search runs, a result is held back until it is `eventsGraceMs` old, so that one written by a
 * transaction still open at the previous poll cannot slip in before a position already sent.
 */
export const eventRoutes: FastifyPluginAsyncZod<{ ctx: ApiContext }> = async (app, { ctx }) => {
  const { store } = ctx;
  app.get(
    '/v1/searches/:id/events',
    {
      schema: {
        summary: 'Progress of a search (Server-Sent Events)',
        description:
          'Events: state, task (with ids 1, 2, ...: resume with Last-Event-ID), candidates, end. The stream closes when the search ends.',
        tags: ['searches'],
        security: [{ bearer: [] }],
        params: searchParamsSchema,
        querystring: noQuerySchema,
        headers: eventsHeaderSchema,
        produces: ['text/event-stream'],
        response: {
          200: z.string().describe('text/event-stream'),
          400: problemSchema,
          401: problemSchema,
          404: problemSchema,
          429: problemSchema,
        },
      },
    },
    async (request, reply) => {
      const owner = ownerOf(request);
      const id = request.params.id;
      const last = request.headers['last-event-id'];
      let seq = 0;
      if (last !== undefined && last.trim() !== '') {
        if (!/^\d{1,15}$/.test(last.trim())) {
          throw new HttpProblem(400, 'Last-Event-ID must be a task event id (a non-negative integer)', [
            { path: 'headers.last-event-id', message: 'Last-Event-ID must be a non-negative integer' },
          ]);
        }
        seq = Number(last.trim());
      }
      let search = await store.searches.get(owner, id);
      let cursor: ResultCursor | null = await store.monitor.cursorAt(id, seq);
      if (cursor === null) seq = 0;

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let closed = false;
      let lastWrite = Date.now();
      let wake: (() => void) | undefined;
      request.raw.on('close', () => {
        closed = true;
        wake?.();
      });
      const send = (event: string, data: unknown, eventId?: number) => {
        if (closed) return;
        lastWrite = Date.now();
        raw.write(
          `${eventId === undefined ? '' : `id: ${eventId}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`,
        );
      };
      raw.write('retry: 1000\n\n');

      let lastState = '';
      let lastCandidates = '';
      try {
        for (;;) {
          if (closed) break;
          const terminal = TERMINAL_SEARCH_STATES.includes(search.state);
          // A finished search gets no more results: everything is sent, without holding any back.
          for (;;) {
            const rows = await store.monitor.resultsAfter(id, cursor, terminal ? null : ctx.eventsGraceMs, BATCH);
            for (const r of rows) {
              seq += 1;
              send(
                'task',
                {
                  runId: r.runId,
                  candidate: r.candidate,
                  seedIndex: r.seedIndex,
                  taskIndex: r.taskIndex,
                  iterations: finite(r.iterations),
                  totalIterations: r.totalIterations,
                  converged: r.converged,
                  failure: r.failure === null ? null : r.failure.toLowerCase(),
                  finalLoss: finite(r.finalLoss),
                  accuracy: finite(r.accuracy),
                  heldOutLoss: finite(r.heldOutLoss),
                  wallMs: finite(r.wallMs),
                },
                seq,
              );
              cursor = { ms: r.ms, runId: r.runId, taskIndex: r.taskIndex };
            }
            if (rows.length < BATCH || closed) break;
          }
          const candidates = await store.searches.candidates(owner, id);
          const views = candidates.map((c) => candidateView(id, c));
          const summary = JSON.stringify(views.map((c) => [c.bits, c.state, c.rung, c.score]));
          if (summary !== lastCandidates) {
            lastCandidates = summary;
            send('candidates', {
              items: views.map((c) => ({ id: c.id, bits: c.bits, state: c.state, rung: c.rung, score: c.score })),
            });
          }
          const tasksDone = candidates.reduce((n, c) => n + c.runs.reduce((m, r) => m + r.tasksDone, 0), 0);
          const state = JSON.stringify([search.state, search.error, tasksDone]);
          if (state !== lastState) {
            lastState = state;
            send('state', stateEvent(search, tasksDone));
          }
          if (terminal) {
            send('end', { id, state: search.state });
            break;
          }
          if (Date.now() - lastWrite > KEEPALIVE_MS && !closed) {
            raw.write(': keep-alive\n\n');
            lastWrite = Date.now();
          }
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, ctx.eventsPollMs);
            wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          if (closed) break;
          try {
            search = await store.searches.get(owner, id);
          } catch (e) {
            if (e instanceof NotFoundError) {
              send('end', { id, state: 'DELETED' });
              break;
            }
            throw e;
          }
        }
      } catch (err) {
        request.log.error({ err, searchId: id }, 'progress stream failed');
        send('error', { detail: 'the progress stream failed; reconnect to resume' });
      } finally {
        raw.end();
      }
    },
  );
};

function stateEvent(s: SearchRecord, tasksDone: number) {
  return {
    id: s.id,
    state: s.state,
    error: s.error,
    tasksDone,
    startedAt: s.startedAt?.toISOString() ?? null,
    finishedAt: s.finishedAt?.toISOString() ?? null,
  };
}
