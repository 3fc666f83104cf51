#!/usr/bin/env node
import { configOrExit, exitOnSignal } from '@ip2/contracts';
import { parseWorkerEnv } from './env.js';
import { startWorker } from './worker.js';

const log = (m: string) => process.stderr.write(`ip2-worker: ${m}\n`);

const config = configOrExit(log, () => parseWorkerEnv(process.env));

const running = startWorker(config, log);
running.worker.on('ready', () =>
  log(`ready: ${config.workerId} on ${config.host}, concurrency ${config.concurrency}, prefix ${config.queuePrefix}`),
);

exitOnSignal(log, () => running.close(), 'closing (current jobs finish or stop at their next task boundary)');
