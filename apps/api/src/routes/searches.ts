import { ActiveLimitError, NotFoundError, type SearchRecord } from '@ip2/db';
import { parseSearchDefinition, plannedTaskTrainings, type SearchDefinition } from '@ip2/search';
import { FAMILY_IDS, isFamilyId } from '@ip2/tasks';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ownerOf, type ApiContext } from '../context.js';
import type { ApiLimits } from '../env.js';
import { HttpProblem } from '../problem.js';
import {
  candidateListSchema,
  idempotencyHeaderSchema,
  learningCurveSchema,
  listSearchesQuerySchema,
  noQuerySchema,
  problemSchema,
  runParamsSchema,
  searchBodySchema,
  searchListSchema,
  searchParamsSchema,
  searchViewSchema,
  taskView,
  withFamilies,
} from '@ip2/contracts/http';
import { candidateView, searchView } from '../views.js';

const errors = { 400: problemSchema, 401: problemSchema, 404: problemSchema, 429: problemSchema };
const security = [{ bearer: [] }];

/** Refuses a valid definition the service will not run: unknown family, or beyond this server's limits. */
export function checkLimits(d: SearchDefinition, limits: ApiLimits): void {
  const issues: { path: string; message: string }[] = [];
  if (!isFamilyId(d.family)) {
    issues.push({
      path: 'family',
      message: `family: unknown task family '${d.family}'; known: ${FAMILY_IDS.join(', ')}`,
    });
  }
  if (d.protocol.network.hidden > limits.maxHidden) {
    issues.push({
      path: 'protocol.network.hidden',
      message: `protocol.network.hidden (${d.protocol.network.hidden}) exceeds this server's limit of ${limits.maxHidden}`,
    });
  }
  const planned = plannedTaskTrainings(d);
  if (planned > limits.maxTaskTrainings) {
    issues.push({
      path: 'protocol',
      message: `the search plans ${planned} task trainings (masks × protocol.seeds × protocol.tasks), above this server's limit of ${limits.maxTaskTrainings}`,
    });
  }
  if (issues.length > 0) {
    throw new HttpProblem(422, issues.map((i) => i.message).join('; '), issues);
  }
}

export const searchRoutes: FastifyPluginAsyncZod<{ ctx: ApiContext }> = async (app, { ctx }) => {
  const { store } = ctx;

  /** The 429 of a submission beyond the owner's MAX_ACTIVE_SEARCHES. */
  const tooMany = (e: ActiveLimitError) =>
    new HttpProblem(
      429,
      `this key's owner has ${e.active} unfinished searches, this server's limit (MAX_ACTIVE_SEARCHES = ${e.limit}); cancel one or wait for one to finish`,
      [{ path: 'headers.authorization', message: 'too many unfinished searches for this key' }],
    );

  app.post(
    '/v1/searches',
    {
      bodyLimit: ctx.limits.bodyLimit,
      schema: {
        summary: 'Submit a meta-IP search',
        description:
          'Creates the search with its candidates and runs and queues it. With an Idempotency-Key header, a ' +
          'repeated submission of the same definition returns the search created first (200).',
        tags: ['searches'],
        security,
        headers: idempotencyHeaderSchema,
        querystring: noQuerySchema,
        body: withFamilies(searchBodySchema, FAMILY_IDS),
        response: {
          200: searchViewSchema,
          201: searchViewSchema,
          ...errors,
          409: problemSchema,
          413: problemSchema,
          422: problemSchema,
        },
      },
    },
    async (request, reply) => {
      const owner = ownerOf(request);
      const definition = parseSearchDefinition(request.body);
      checkLimits(definition, ctx.limits);
      const key = request.headers['idempotency-key'];
      // The count and the insert run under a per-owner lock in PostgreSQL, so that parallel submissions
      // through any number of API processes cannot together pass the limit; a retry of an existing
      // submission (same Idempotency-Key) creates nothing and is never refused.
      const { search, created } = await store.searches
        .create(owner, {
          definition,
          maxActive: ctx.limits.maxActiveSearches,
          ...(key === undefined ? {} : { idempotencyKey: key }),
        })
        .catch((e: unknown) => {
          throw e instanceof ActiveLimitError ? tooMany(e) : e;
        });
      await notify(ctx, search, request.log);
      return reply
        .code(created ? 201 : 200)
        .header('location', `/v1/searches/${search.id}`)
        .send(searchView(search));
    },
  );

  app.get(
    '/v1/searches',
    {
      schema: {
        summary: "The key owner's searches, newest first",
        description: 'Cursor pagination (cursor = nextCursor of the previous page) or page pagination (page=1,2,...).',
        tags: ['searches'],
        security,
        querystring: withFamilies(listSearchesQuerySchema, FAMILY_IDS),
        response: { 200: searchListSchema, ...errors },
      },
    },
    async (request) => {
      const q = request.query;
      const owner = ownerOf(request);
      const r = await store.searches.page(owner, q);
      const base = new URLSearchParams();
      base.set('limit', String(q.limit));
      if (q.state) base.set('state', q.state);
      if (q.family) base.set('family', q.family);
      let next: string | null = null;
      if (q.page !== undefined) {
        if (r.hasMore) next = `/v1/searches?${base.toString()}&page=${q.page + 1}`;
      } else if (r.nextCursor !== null) {
        next = `/v1/searches?${base.toString()}&cursor=${r.nextCursor}`;
      }
      return {
        items: r.items.map(searchView),
        nextCursor: q.page === undefined ? r.nextCursor : null,
        ...(q.page === undefined ? {} : { page: q.page, total: r.total ?? 0 }),
        links: { next },
      };
    },
  );

  app.get(
    '/v1/searches/:id',
    {
      schema: {
        summary: 'One search',
        tags: ['searches'],
        security,
        params: searchParamsSchema,
        querystring: noQuerySchema,
        response: { 200: searchViewSchema, ...errors },
      },
    },
    async (request) => searchView(await store.searches.get(ownerOf(request), request.params.id)),
  );

  app.delete(
    '/v1/searches/:id',
    {
      schema: {
        summary: 'Cancel a search',
        description: 'Cancels a queued or running search; its results are kept. Cancelling again changes nothing.',
        tags: ['searches'],
        security,
        params: searchParamsSchema,
        querystring: noQuerySchema,
        response: { 200: searchViewSchema, ...errors, 409: problemSchema },
      },
    },
    async (request) => {
      const owner = ownerOf(request);
      await store.searches.cancel(owner, request.params.id);
      return searchView(await store.searches.get(owner, request.params.id));
    },
  );

  app.get(
    '/v1/searches/:id/candidates',
    {
      schema: {
        summary: "A search's candidates (masks) with their scores and runs",
        tags: ['searches'],
        security,
        params: searchParamsSchema,
        querystring: noQuerySchema,
        response: { 200: candidateListSchema, ...errors },
      },
    },
    async (request) => {
      const id = request.params.id;
      const candidates = await store.searches.candidates(ownerOf(request), id);
      return { searchId: id, items: candidates.map((c) => candidateView(id, c)) };
    },
  );

  app.get(
    '/v1/searches/:id/runs/:runId/tasks',
    {
      schema: {
        summary: "A run's task results in task order (its learning curve)",
        tags: ['searches'],
        security,
        params: runParamsSchema,
        querystring: noQuerySchema,
        response: { 200: learningCurveSchema, ...errors },
      },
    },
    async (request) => {
      const { id, runId } = request.params;
      const candidates = await store.searches.candidates(ownerOf(request), id);
      for (const c of candidates) {
        const run = c.runs.find((r) => r.id === runId);
        if (run === undefined) continue;
        const results = await store.runs.results(runId);
        return {
          searchId: id,
          runId,
          candidate: c.bits,
          seedIndex: run.seedIndex,
          state: run.state,
          items: results.map(taskView),
        };
      }
      throw new NotFoundError(`no run ${runId} in search ${id}`);
    },
  );
};

async function notify(
  ctx: ApiContext,
  search: SearchRecord,
  log: { warn: (o: object, m: string) => void },
): Promise<void> {
  try {
    await ctx.onSearchCreated(search);
  } catch (err) {
    // The search is stored; the controller's periodic look at unfinished searches starts it later.
    log.warn({ err, searchId: search.id }, 'could not queue the new search; the controller will pick it up');
  }
}
