#!/usr/bin/env node
import { EnvError, parseWorkerEnv, type WorkerConfig } from './env.js';
import { startWorker } from './worker.js';

const log = (m: string) => process.stderr.write(`ip2-worker: ${m}\n`);

let config: WorkerConfig;
try {
  config = parseWorkerEnv(process.env);
} catch (e) {
  if (e instanceof EnvError) {
    log(`invalid environment:\n${e.message}`);
    process.exit(2);
  }
  throw e;
}

const running = startWorker(config, log);
running.worker.on('ready', () =>
  log(`ready: ${config.workerId} on ${config.host}, concurrency ${config.concurrency}, prefix ${config.queuePrefix}`),
);

let closing = false;
const shutdown = (signal: string) => {
  if (closing) return;
  closing = true;
  log(`${signal}: closing (current jobs finish or stop at their next task boundary)`);
  running.close().then(
    () => process.exit(0),
    (e: unknown) => {
      log(`close failed: ${String(e)}`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
