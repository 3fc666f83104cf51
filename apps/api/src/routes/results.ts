import type { StoredAnalysis } from '@ip2/db';
import { searchReport, taskFiles, toJson, type ConfigurationAnalysis } from '@ip2/report';
import {
  isImportance,
  parseStoredSearchDefinition,
  propertyImportance,
  SearchIncompleteError,
  tableFromRows,
} from '@ip2/search';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ownerOf, type ApiContext } from '../context.js';
import { HttpProblem } from '../problem.js';
import {
  importanceViewSchema,
  noQuerySchema,
  resultsQuerySchema,
  problemSchema,
  searchParamsSchema,
} from '@ip2/contracts/http';

/** The stored analyses for the report, or the report's note on why there are none (yet). */
function analysisOf(a: StoredAnalysis | null): { analysis?: ConfigurationAnalysis; analysisNote?: string } {
  if (a === null) return {};
  switch (a.state) {
    case 'COMPLETE':
      return { analysis: a.analysis as ConfigurationAnalysis };
    case 'PENDING':
      return {
        analysisNote: `Analyses pending: a worker is training the chosen configuration again on ${a.seeds} seed${a.seeds === 1 ? '' : 's'} (intrinsic distributions, lesion study, modularity); reload this report later.`,
      };
    case 'FAILED':
      return { analysisNote: `The analyses of the chosen configuration failed: ${a.error ?? 'unknown error'}` };
  }
}

function sendReport(reply: FastifyReply, id: string, html: string) {
  return reply
    .type('text/html; charset=utf-8')
    .header('content-disposition', `inline; filename="search-${id}-report.html"`)
    .send(html);
}

const errors = { 400: problemSchema, 401: problemSchema, 404: problemSchema, 429: problemSchema };
const security = [{ bearer: [] }];

/**
 * A search's outputs, made from its stored task results by the same code as the local mode's files:
 * the HTML report (report.html) and the task results of every run (tasks.json, tasks.csv).
 */
export const resultRoutes: FastifyPluginAsyncZod<{ ctx: ApiContext }> = async (app, { ctx }) => {
  const { store, reports } = ctx;

  app.get(
    '/v1/searches/:id/report',
    {
      schema: {
        summary: "A finished search's report (self-contained HTML)",
        description:
          'The report `ip2 search` writes as report.html: decision, candidate table with intervals, learning ' +
          'curves, successive-halving bracket, and the analyses of the chosen configuration (intrinsic ' +
          'distributions, lesion study, modularity) once a worker has computed them after the search completed ' +
          '(until then the report says they are pending). Made from the stored task results; 409 until the ' +
          'search is COMPLETE.',
        tags: ['searches'],
        security,
        params: searchParamsSchema,
        querystring: noQuerySchema,
        produces: ['text/html'],
        response: { 200: z.string().describe('text/html'), ...errors, 409: problemSchema },
      },
    },
    async (request, reply) => {
      const owner = ownerOf(request);
      const id = request.params.id;
      const search = await store.searches.get(owner, id);
      if (search.state !== 'COMPLETE') {
        throw new HttpProblem(
          409,
          `search ${id} is ${search.state}: its report exists once it is COMPLETE (follow /v1/searches/${id}/events)`,
          [{ path: 'params.id', message: `search is ${search.state}` }],
        );
      }
      const analysis = await store.analyses.get(id);
      // Looked up after the owner check above: a cached report is only ever served to its owner.
      const key = [id, analysis?.state ?? 'none', analysis?.updatedAt.getTime() ?? 0].join(':');
      const cached = reports.get(key);
      if (cached !== undefined) return sendReport(reply, id, cached);
      const records = await store.searches.taskResults(owner, id);
      const wallSeconds =
        search.startedAt && search.finishedAt
          ? (search.finishedAt.getTime() - search.startedAt.getTime()) / 1000
          : undefined;
      let html: string;
      try {
        const report = await searchReport(parseStoredSearchDefinition(search.definition), records, {
          searchId: id,
          ...(wallSeconds === undefined ? {} : { wallSeconds }),
          ...analysisOf(analysis),
        });
        html = report.html;
      } catch (e) {
        if (e instanceof SearchIncompleteError) {
          throw new HttpProblem(409, `search ${id} is COMPLETE but its stored results do not finish it: ${e.message}`);
        }
        throw e;
      }
      reports.set(key, html);
      return sendReport(reply, id, html);
    },
  );

  app.get(
    '/v1/searches/:id/analysis',
    {
      schema: {
        summary: 'The analyses of the chosen configuration (download)',
        description:
          'What `ip2 search` writes as analysis.json, wrapped with its state: after a search completes a ' +
          'worker trains the chosen configuration again on `seeds` seeds for the analyses of SCIENCE.md §8 ' +
          '(intrinsic distributions, lesion study, modularity; near-silent networks flagged). ' +
          '`{ searchId, state: PENDING | COMPLETE | FAILED, seeds, error, analysis }`, `analysis` null until ' +
          'COMPLETE (NaN and ±Infinity as strings). 404 when none was asked for (the search is not ' +
          'complete, or the controller runs with ANALYSIS_SEEDS=0).',
        tags: ['searches'],
        security,
        params: searchParamsSchema,
        querystring: noQuerySchema,
        produces: ['application/json'],
        response: { 200: z.string().describe('the analyses with their state'), ...errors },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const search = await store.searches.get(ownerOf(request), id);
      const a = await store.analyses.get(id);
      if (a === null) {
        throw new HttpProblem(
          404,
          search.state === 'COMPLETE'
            ? `search ${id} has no analyses: none were asked for (the controller's ANALYSIS_SEEDS is 0)`
            : `search ${id} is ${search.state}: its analyses are asked for once it is COMPLETE`,
        );
      }
      const body = { searchId: id, state: a.state, seeds: a.seeds, error: a.error, analysis: a.analysis ?? null };
      return reply
        .type('application/json; charset=utf-8')
        .header('content-disposition', `attachment; filename="search-${id}-analysis.json"`)
        .send(toJson(body));
    },
  );

  app.get(
    '/v1/searches/:id/importance',
    {
      schema: {
        summary: 'Property importance from the factorial design over masks',
        description:
          'Every mask of the search space measured on (at least) the first rung is a full factorial design: per ' +
          'property, the main effect on the score (mean score of the masks where it is learnable minus the mean ' +
          'where it is not), and per pair of properties the interaction (the main effect of the first with the ' +
          'second learnable minus without), each with a bootstrap interval over seeds (bootstrap.level of the ' +
          'definition). Computed from the stored task results, also while the search runs (once the first rung ' +
          'is measured); null with the reason while it cannot be, or when the strategy measures fewer masks.',
        tags: ['searches'],
        security,
        params: searchParamsSchema,
        querystring: noQuerySchema,
        response: { 200: importanceViewSchema, ...errors },
      },
    },
    async (request) => {
      const owner = ownerOf(request);
      const id = request.params.id;
      const search = await store.searches.get(owner, id);
      const rows = await store.runs.resultTable(id);
      const imp = propertyImportance(parseStoredSearchDefinition(search.definition), tableFromRows(rows));
      if (!isImportance(imp))
        return { searchId: id, state: search.state, importance: null, unavailable: imp.unavailable };
      const effect = (e: (typeof imp.main)[number]) => ({
        keys: [...e.keys],
        effect: { ...e.effect },
        reading: e.reading,
      });
      return {
        searchId: id,
        state: search.state,
        importance: { ...imp, main: imp.main.map(effect), interactions: imp.interactions.map(effect) },
        unavailable: null,
      };
    },
  );

  app.get(
    '/v1/searches/:id/results',
    {
      schema: {
        summary: 'Every task result of every run of a search (download)',
        description:
          'As `ip2 search` writes them: format=json gives tasks.json (every field but the wall time; NaN and ' +
          '±Infinity as strings), format=csv gives tasks.csv; sorted by candidate, seed and task. Available ' +
          'while the search runs (the results so far).',
        tags: ['searches'],
        security,
        params: searchParamsSchema,
        querystring: resultsQuerySchema,
        produces: ['application/json', 'text/csv'],
        response: { 200: z.string().describe('tasks.json or tasks.csv'), ...errors },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const format = request.query.format;
      const records = await store.searches.taskResults(ownerOf(request), id);
      const files = taskFiles(records);
      return reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
        .header('content-disposition', `attachment; filename="search-${id}-tasks.${format}"`)
        .send(format === 'csv' ? files.csv : files.json);
    },
  );
};
