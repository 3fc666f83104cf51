import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { Queues } from '@ip2/contracts';
import type { SearchRecord, Store } from '@ip2/db';
import { existsSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { authenticate, rateLimitKey, requireApiKey } from './auth.js';
import type { ApiContext } from './context.js';
import { DEFAULT_LIMITS, type ApiLimits } from './env.js';
import { EventHub } from './event-hub.js';
import { ReportCache } from './report-cache.js';
import { createMetrics, recordRequests } from './metrics.js';
import { problem, sendProblem, toProblem, HttpProblem } from './problem.js';
import { configRoutes } from './routes/configs.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { resultRoutes } from './routes/results.js';
import { searchRoutes } from './routes/searches.js';

export interface ApiOptions {
  /** The repositories (the app does not close them). */
  readonly store: Store;
  /** Redis: readiness, shared rate-limit counters and (by default) the controller's queue. */
  readonly redisUrl: string;
  /** Prefix of the BullMQ queues and of the rate-limit keys (default 'ip2'). */
  readonly queuePrefix?: string;
  readonly limits?: Partial<ApiLimits>;
  /**
   * Starts a stored search. Default: asks the controller to look at it (a `search.advance` job), which
   * is what @ip2/controller's submitSearch does after storing a search.
   */
  readonly onSearchCreated?: (search: SearchRecord) => Promise<void>;
  readonly eventsPollMs?: number;
  readonly eventsGraceMs?: number;
  readonly eventsBufferBytes?: number;
  /** Memory for the reports of COMPLETE searches made lately (default 64 MiB; 0: none kept). */
  readonly reportCacheBytes?: number;
  /** Whether GET /metrics answers without a key (default true). */
  readonly metricsPublic?: boolean;
  /**
   * The dashboard's built files (apps/dashboard/dist), served without a key under /dashboard/ (and `/`
   * redirects there). Not served when absent or the folder does not exist.
   */
  readonly dashboardDir?: string;
}

export const API_VERSION = '0.1.0';

/**
 * Unread output a progress stream may hold before it is closed (its client resumes with Last-Event-ID):
 * about 700 task events; bounds the API's memory at 256 KiB per stream whose client does not keep up.
 */
export const DEFAULT_EVENTS_BUFFER_BYTES = 256 * 1024;

/** The whole API as one plugin: external plugins, then the open routes, then the authenticated ones. */
export const apiPlugin: FastifyPluginAsync<ApiOptions> = async (root, options) => {
  const app = root.withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const limits: ApiLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const prefix = options.queuePrefix ?? 'ip2';
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
  redis.on('error', (err) => app.log.debug({ err }, 'redis'));
  let queues: Queues | undefined;
  const onSearchCreated =
    options.onSearchCreated ??
    (async (search: SearchRecord) => {
      queues ??= new Queues(options.redisUrl, prefix);
      await queues.addAdvance(search.id, 'submitted');
    });
  app.addHook('onClose', async () => {
    await queues?.close();
    redis.disconnect();
  });

  const events = new EventHub({
    store: options.store,
    pollMs: options.eventsPollMs ?? 500,
    // Task results younger than this are held back from a running search's stream (see routes/events.ts).
    graceMs: options.eventsGraceMs ?? 2000,
    maxBufferedBytes: options.eventsBufferBytes ?? DEFAULT_EVENTS_BUFFER_BYTES,
    onError: (err, searchId) => app.log.error({ err, searchId }, 'progress stream failed'),
    onDrop: (searchId) => app.log.warn({ searchId }, 'progress stream dropped: the client does not keep up'),
  });
  app.addHook('preClose', async () => {
    events.close();
  });
  const reports = new ReportCache(options.reportCacheBytes ?? 64 * 1024 * 1024);
  const ctx: ApiContext = { store: options.store, limits, onSearchCreated, events, reports };

  app.decorateRequest('apiKey', null);
  // Bodies are JSON only: a text body is refused (415) rather than handed to a schema as a string.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((err, request, reply) => {
    const p = toProblem(err, request);
    if (err instanceof HttpProblem) reply.headers(err.headers);
    return sendProblem(reply, p);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem(404, `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  const registry = createMetrics(options.store.monitor, () => events.stats());
  recordRequests(app, registry);

  await app.register(fastifyHelmet, { global: true, contentSecurityPolicy: false });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'ip2 API',
        description: 'Meta-IP searches for recurrent spiking networks: submit, watch, read results.',
        version: API_VERSION,
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key (ip2_...)' } },
      },
      tags: [
        { name: 'searches', description: 'Meta-IP searches, their candidates, runs and progress' },
        { name: 'configs', description: 'Fixed configurations per task family' },
        { name: 'operations', description: 'Health, readiness, metrics' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
  });

  await app.register(healthRoutes, {
    ctx,
    redis,
    registry,
    ...(options.metricsPublic === false ? { metricsAuth: authenticate(ctx) } : {}),
  });

  const dashboard = options.dashboardDir;
  if (dashboard !== undefined && existsSync(dashboard)) {
    await app.register(fastifyStatic, { root: dashboard, prefix: '/dashboard/', redirect: true, index: 'index.html' });
    app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('/dashboard/'));
  } else if (dashboard !== undefined) {
    app.log.warn({ dashboard }, 'dashboard not built (npm run build): not served');
  }

  await app.register(async (scope) => {
    requireApiKey(scope, ctx);
    await scope.register(fastifyRateLimit, {
      global: true,
      hook: 'preParsing',
      max: limits.rateLimitMax,
      timeWindow: limits.rateLimitWindowMs,
      redis,
      nameSpace: `${prefix}:api-rate:`,
      skipOnError: true,
      keyGenerator: rateLimitKey,
      errorResponseBuilder: (_request, context) =>
        new HttpProblem(429, `rate limit of ${context.max} requests per ${context.after} exceeded for this key`, [
          { path: 'headers.authorization', message: 'too many requests for this key' },
        ]),
    });
    await scope.register(searchRoutes, { ctx });
    await scope.register(eventRoutes, { ctx });
    await scope.register(resultRoutes, { ctx });
    await scope.register(configRoutes, { ctx });
  });
};

export interface BuildAppOptions extends ApiOptions {
  /** Fastify's logger option (default: pino at IP2_LOG or 'info'; 'silent' in tests); LOG_REDACT is added. */
  readonly logger?: FastifyServerOptions['logger'];
}

/** Log fields that may hold a secret: censored in every log line. */
export const LOG_REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'databaseUrl',
  'DATABASE_URL',
  'password',
  '*.password',
];

/** An API key anywhere in a text (a URL someone put a key in, say). */
const KEY_IN_TEXT = /ip2_[A-Za-z0-9_-]+/g;

/** Request log fields: method, path with any key-like text censored, and no headers. */
function requestLogFields(req: { method: string; url: string; ip?: string }) {
  return { method: req.method, url: req.url.replace(KEY_IN_TEXT, 'ip2_[Redacted]'), remoteAddress: req.ip };
}

function withRedaction(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === false) return false;
  const base = logger === true || logger === undefined ? {} : logger;
  return {
    level: process.env.IP2_LOG ?? 'info',
    ...base,
    redact: { paths: LOG_REDACT, censor: '[Redacted]' },
    serializers: { req: requestLogFields, ...(base.serializers ?? {}) },
  };
}

/** A Fastify instance with the API registered (not listening; call listen() or inject()). */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const limits: ApiLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const app = Fastify({
    logger: withRedaction(options.logger),
    // Every log line of a request carries its id (reqId); the response tells it in X-Request-Id.
    genReqId: () => randomUUID(),
    // A path the router cannot decode (not UTF-8, say) is refused before any plugin sees it.
    frameworkErrors: (err, _request, reply) => {
      void sendProblem(reply, problem(400, `bad request URL: ${err.message}`, [{ path: 'url', message: err.message }]));
    },
    bodyLimit: limits.bodyLimit,
    trustProxy: false,
    ajv: { customOptions: { removeAdditional: false } },
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await app.register(apiPlugin, options);
  await app.ready();
  return app;
}
