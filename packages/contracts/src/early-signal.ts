/*
 * Imported first by a process's entry point (`import '@ip2/contracts/early-signal'`, before any other
 * import, so before BullMQ, ioredis or Prisma load): from then on a SIGTERM or SIGINT is caught, never
 * the default action that ends the process at once. Without it, a process stopped while it was still
 * loading its modules was killed by the signal (exit code null) instead of closing. The entry point
 * hands the signal on to exitOnSignal (`earlySignal()`), which starts the shutdown at once.
 *
 * The shutdown deadline (SHUTDOWN_MS) runs from the signal itself: when start-up never hands the signal
 * on (it waits on a Redis or PostgreSQL that does not answer, say), the process still exits, with
 * code 1, once the deadline has passed. This module stays free of imports so that it loads first and
 * fast; it reads SHUTDOWN_MS itself, falling back to the default when the value is not one the
 * environment schemas accept (they report that once start-up parses them).
 */
import { DEFAULT_SHUTDOWN_MS, SHUTDOWN_MS_RANGE } from './shutdown.js';
import type { EarlySignal } from './env.js';

let caught: EarlySignal | null = null;
let deadline: NodeJS.Timeout | undefined;

/** SHUTDOWN_MS as the environment schemas read it, or the default when it is unset or out of range. */
export function earlyDeadlineMs(value: string | undefined): number {
  const ms = value === undefined || value.trim() === '' ? NaN : Number(value);
  return Number.isInteger(ms) && ms >= SHUTDOWN_MS_RANGE[0] && ms <= SHUTDOWN_MS_RANGE[1] ? ms : DEFAULT_SHUTDOWN_MS;
}

const note = (signal: NodeJS.Signals) => {
  if (caught) return;
  caught = { signal, at: Date.now() };
  const ms = earlyDeadlineMs(process.env.SHUTDOWN_MS);
  deadline = setTimeout(() => {
    process.stderr.write(
      `${signal} during start-up, which has not finished ${ms / 1000} s later: exiting without waiting further\n`,
    );
    process.exit(1);
  }, ms);
};
process.on('SIGTERM', note);
process.on('SIGINT', note);

/**
 * The first signal caught so far (or null); from this call on, signals are left to exitOnSignal, which
 * keeps the deadline running from the signal's time (`at`).
 */
export function earlySignal(): EarlySignal | null {
  process.off('SIGTERM', note);
  process.off('SIGINT', note);
  clearTimeout(deadline);
  return caught;
}
