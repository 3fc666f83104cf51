#!/usr/bin/env node
import { configOrExit } from '@ip2/contracts';
import { parseWorkerEnv } from './env.js';
import { startWorker } from './worker.js';

const log = (m: string) => process.stderr.write(`ip2-worker: ${m}\n`);

const config = configOrExit(log, () => parseWorkerEnv(process.env));

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
