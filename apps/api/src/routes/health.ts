import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { ApiContext } from '../context.js';

const CHECK_TIMEOUT_MS = 2000;

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref()),
  ]);
}

async function check(fn: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  try {
    await within(fn(), CHECK_TIMEOUT_MS);
    return { ok: true };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message.split('\n')[0]! : String(e) };
  }
}

const checkSchema = z.object({ ok: z.boolean(), error: z.string().optional() });
const readySchema = z.object({
  status: z.enum(['ready', 'unavailable']),
  checks: z.object({ postgres: checkSchema, redis: checkSchema }),
});

/**
 * Liveness, readiness (PostgreSQL and Redis answer) and Prometheus metrics: no authentication, except
 * for the metrics when `metricsAuth` (the API key check) is given.
 */
export const healthRoutes: FastifyPluginAsyncZod<{
  ctx: ApiContext;
  redis: Redis;
  registry: Registry;
  metricsAuth?: (request: FastifyRequest) => Promise<void>;
}> = async (app, { ctx, redis, registry, metricsAuth }) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['operations'],
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: PostgreSQL and Redis answer',
        tags: ['operations'],
        response: { 200: readySchema, 503: readySchema },
      },
    },
    async (_request, reply) => {
      const [postgres, redisCheck] = await Promise.all([
        check(() => ctx.store.monitor.ping()),
        check(() => redis.ping()),
      ]);
      const ok = postgres.ok && redisCheck.ok;
      const body = {
        status: ok ? ('ready' as const) : ('unavailable' as const),
        checks: { postgres, redis: redisCheck },
      };
      return reply.code(ok ? 200 : 503).send(body);
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['operations'],
        produces: ['text/plain'],
        ...(metricsAuth ? { security: [{ bearer: [] }] } : {}),
      },
      ...(metricsAuth ? { onRequest: metricsAuth } : {}),
    },
    async (_request, reply) => {
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    },
  );
};
