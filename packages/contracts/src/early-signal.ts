/*
 * Imported first by a process's entry point (`import '@ip2/contracts/early-signal'`, before any other
 * import, so before BullMQ, ioredis or Prisma load): from then on a SIGTERM or SIGINT is caught, never
 * the default action that ends the process at once. Without it, a process stopped while it was still
 * loading its modules was killed by the signal (exit code null) instead of closing. The entry point
 * hands the signal on to exitOnSignal (`earlySignal()`), which starts the shutdown at once.
 */
import type { EarlySignal } from './env.js';

let caught: EarlySignal | null = null;
const note = (signal: NodeJS.Signals) => {
  caught ??= { signal, at: Date.now() };
};
process.on('SIGTERM', note);
process.on('SIGINT', note);

/** The first signal caught so far (or null); from this call on, signals are left to exitOnSignal. */
export function earlySignal(): EarlySignal | null {
  process.off('SIGTERM', note);
  process.off('SIGINT', note);
  return caught;
}
