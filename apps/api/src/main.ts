#!/usr/bin/env node
import { openStore } from '@ip2/db';
import { buildApp } from './app.js';
import { EnvError, parseApiEnv, type ApiConfig } from './env.js';

const log = (m: string) => process.stderr.write(`ip2-api: ${m}\n`);

let config: ApiConfig;
try {
  config = parseApiEnv(process.env);
} catch (e) {
  if (e instanceof EnvError) {
    log(`invalid environment:\n${e.message}`);
    process.exit(2);
  }
  throw e;
}

const store = openStore({ url: config.databaseUrl });
const app = await buildApp({
  store,
  redisUrl: config.redisUrl,
  queuePrefix: config.queuePrefix,
  limits: config.limits,
  logger: { level: config.logLevel },
});
await app.listen({ port: config.port, host: config.host });

let closing = false;
const shutdown = (signal: string) => {
  if (closing) return;
  closing = true;
  log(`${signal}: closing`);
  app
    .close()
    .then(() => store.close())
    .then(
      () => process.exit(0),
      (e: unknown) => {
        log(`close failed: ${String(e)}`);
        process.exit(1);
      },
    );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
