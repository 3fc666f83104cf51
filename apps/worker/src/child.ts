import { Worker } from 'node:worker_threads';

/** How often the watchdog thread looks for the parent. */
const WATCH_MS = 250;

/*
 * The watchdog: a thread of its own, so that it runs while the main thread is inside a long synchronous
 * computation (a task's training, an analysis), when no event of the main thread can be handled.
 */
const WATCHDOG = `
const { workerData } = require('node:worker_threads');
setInterval(() => {
  if (process.ppid !== workerData.parent) process.kill(workerData.self, 'SIGKILL');
}, workerData.ms);
`;

/**
 * Ends a sandboxed job process when its worker process is gone: a child that outlived its parent could
 * report to no one and would go on using a CPU for nothing. That happens to a child whose parent was
 * killed on its own, and to one forked for a job fetched while its worker was closing (the pool's clean-up
 * does not see a child that is still starting). What the child had written stays written; its run is
 * reaped and resumed from the last checkpoint, an analysis starts over elsewhere.
 */
export function exitWithParent(): void {
  if (typeof process.send !== 'function') return; // not a forked child (a test importing the module)
  if (!process.connected) process.exit(0);
  process.once('disconnect', () => process.exit(0));
  const watchdog = new Worker(WATCHDOG, {
    eval: true,
    execArgv: [],
    workerData: { parent: process.ppid, self: process.pid, ms: WATCH_MS },
  });
  watchdog.unref();
}
