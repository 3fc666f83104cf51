/*
 * The api process, loaded by main.ts once the stop signals are caught (see there).
 */
import { takeStopSignals } from '@ip2/contracts/early-signal';
import { fileURLToPath } from 'node:url';
import { closeLogged, openStore } from '@ip2/db';
import { buildApp } from './app.js';
import { configOrExit, exitOnSignal } from '@ip2/contracts';
import { parseApiEnv } from './env.js';

const log = (m: string) => process.stderr.write(`ip2-api: ${m}\n`);

const config = configOrExit(log, () => parseApiEnv(process.env));

const store = openStore({ url: config.databaseUrl });
const app = await buildApp({
  store,
  redisUrl: config.redisUrl,
  queuePrefix: config.queuePrefix,
  limits: config.limits,
  metricsPublic: config.metricsPublic,
  eventsPollMs: config.eventsPollMs,
  eventsBufferBytes: config.eventsBufferBytes,
  reportCacheBytes: config.reportCacheBytes,
  logger: { level: config.logLevel },
  dashboardDir: config.dashboardDir ?? fileURLToPath(new URL('../../dashboard/dist', import.meta.url)),
});
await app.listen({ port: config.port, host: config.host });

exitOnSignal(log, () => app.close().then(() => store.close(closeLogged(log))), {
  deadlineMs: config.shutdownMs,
  signals: takeStopSignals,
});
