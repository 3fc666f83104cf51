import { computeOptions } from '@ip2/contracts';
import { openStore, type Store } from '@ip2/db';
import type { SandboxedJob } from 'bullmq';
import { processAnalyseJob } from './analyse.js';
import { parseWorkerEnv } from './env.js';

/*
 * The sandboxed processor of search.analyse: the analyses train the chosen configuration again
 * (CPU-bound), so they run in a child process as run.train does.
 */

/*
 * A stopping worker does not wait for its analysis: the analysis has no partial state and starts over on
 * another worker (see worker.ts). The sandbox would otherwise wait on SIGTERM for the current job to end,
 * minutes for an analysis, and hold up the worker's exit by the pool's 30 s kill timeout. With no
 * listener left, SIGTERM and SIGINT end this process at once, even in the middle of a computation.
 */
process.removeAllListeners('SIGTERM');
process.removeAllListeners('SIGINT');

const config = parseWorkerEnv(process.env);
const log = (m: string) => process.stderr.write(`[worker ${config.workerId}] ${m}\n`);
const compute = computeOptions(config.compute, config.logBackend ? log : undefined);
let store: Store | null = null;

export default async function process_(job: SandboxedJob) {
  store ??= openStore({ url: config.databaseUrl, poolSize: 2 });
  return processAnalyseJob(
    { store, compute, log },
    { id: job.id, data: job.data, attemptsMade: job.attemptsMade, opts: { attempts: job.opts.attempts } },
  );
}
