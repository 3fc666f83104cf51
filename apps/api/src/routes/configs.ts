import { NotFoundError } from '@ip2/db';
import { FAMILY_IDS } from '@ip2/tasks';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { ApiContext } from '../context.js';
import {
  configParamsSchema,
  configsQuerySchema,
  fixedConfigListSchema,
  fixedConfigViewSchema,
  noQuerySchema,
  problemSchema,
  withFamilies,
} from '@ip2/contracts/http';
import { fixedConfigView } from '../views.js';

const errors = { 400: problemSchema, 401: problemSchema, 404: problemSchema, 429: problemSchema };

/** Fixed configurations: the chosen mask of a family, versioned, with its evidence. */
export const configRoutes: FastifyPluginAsyncZod<{ ctx: ApiContext }> = async (app, { ctx }) => {
  const { store } = ctx;
  app.get(
    '/v1/configs',
    {
      schema: {
        summary: "A family's fixed configurations, oldest version first",
        description:
          "Versions are numbered per family across model versions; with modelVersion, only those measured under that version of the model's defaults (the family's current configuration for a model version is the last of them).",
        tags: ['configs'],
        security: [{ bearer: [] }],
        querystring: withFamilies(configsQuerySchema, FAMILY_IDS),
        response: { 200: fixedConfigListSchema, ...errors },
      },
    },
    async (request) => {
      const { family, modelVersion } = request.query;
      const items = await store.fixedConfigs.list(family, modelVersion === undefined ? {} : { modelVersion });
      return { family, items: items.map(fixedConfigView) };
    },
  );

  app.get(
    '/v1/configs/:id',
    {
      schema: {
        summary: 'One fixed configuration',
        tags: ['configs'],
        security: [{ bearer: [] }],
        params: configParamsSchema,
        querystring: noQuerySchema,
        response: { 200: fixedConfigViewSchema, ...errors },
      },
    },
    async (request) => {
      const id = request.params.id;
      const config = await store.fixedConfigs.byId(id);
      if (config === null) throw new NotFoundError(`no fixed configuration ${id}`);
      return fixedConfigView(config);
    },
  );
};
