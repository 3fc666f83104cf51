/*
 * The worker process, loaded by main.ts once the stop signals are caught (see there).
 */
import { takeStopSignals } from '@ip2/contracts/early-signal';
import { configOrExit, exitOnSignal } from '@ip2/contracts';
import { parseWorkerEnv } from './env.js';
import { startWorker } from './worker.js';

const log = (m: string) => process.stderr.write(`ip2-worker: ${m}\n`);

const config = configOrExit(log, () => parseWorkerEnv(process.env));

const running = startWorker(config, log);
running.worker.on('ready', () =>
  log(`ready: ${config.workerId} on ${config.host}, concurrency ${config.concurrency}, prefix ${config.queuePrefix}`),
);

exitOnSignal(log, (step) => running.close(step), {
  what: 'closing (current jobs finish or stop at their next task boundary)',
  deadlineMs: config.shutdownMs,
  signals: takeStopSignals,
});
