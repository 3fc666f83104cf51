import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ownerOf, type ApiContext } from '../context.js';
import { HttpProblem } from '../problem.js';
import { noQuerySchema, problemSchema, searchParamsSchema, eventsHeaderSchema } from '@ip2/contracts/http';

/**
 * Progress of a search as Server-Sent Events, from polling the database (one poll per search, shared by
 * all its streams: see EventHub):
 * - `state` (no id): the search's state and progress; sent first, then on every change;
 * - `task` (id 1, 2, 3, ...): one task result of one run, in the order (written at, run, task index): its
 *   runId, candidate and seedIndex, then the fields of the REST task view (taskView: iterations, trials
 *   to criterion, batch size, firing rate, active neurons, neurons, fraction silent, ...);
 * - `candidates` (no id): the candidates' states, rungs and scores, when any of them changes;
 * - `end` (no id): the search finished; the stream closes.
 * A client that reconnects with `Last-Event-ID: n` gets the task results from n + 1 on. While the
 * search runs, a result is held back until it is `eventsGraceMs` old, so that one written by a
 * transaction still open at the previous poll cannot slip in before a position already sent.
 */
export const eventRoutes: FastifyPluginAsyncZod<{ ctx: ApiContext }> = async (app, { ctx }) => {
  const { store, events: hub } = ctx;
  app.get(
    '/v1/searches/:id/events',
    {
      schema: {
        summary: 'Progress of a search (Server-Sent Events)',
        description:
          'Events: state, task (with ids 1, 2, ...: resume with Last-Event-ID; runId, candidate, seedIndex and the fields of a TaskResult of GET /v1/searches/{id}/runs/{runId}/tasks), candidates, end. The stream closes when the search ends.',
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
      await store.searches.get(owner, id);

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write('retry: 1000\n\n');
      const unsubscribe = hub.subscribe(owner, id, seq, raw);
      request.raw.on('close', unsubscribe);
      raw.on('close', unsubscribe);
    },
  );
};
