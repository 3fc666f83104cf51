/*
 * Imported first by a process's entry point (`import '@ip2/contracts/early-signal'`, before any other
 * import, so before BullMQ, ioredis or Prisma load): from then on SIGTERM and SIGINT are caught, never
 * the default action that ends the process at once, and they stay caught by this one listener for the
 * life of the process. The entry point hands them on to exitOnSignal (`{ signals: takeStopSignals }`),
 * which gets the one caught so far at once, and every later one.
 *
 * One listener throughout, never removed: Node emits a signal's event on a later turn of the event
 * loop than the one the signal came in, and it drops a signal whose listeners were all removed in
 * between, even when new ones were added in the same turn. A process stopped just as its start-up
 * handed over from an early listener to its shutdown listener ignored the signal for ever.
 *
 * The shutdown deadline (SHUTDOWN_MS) runs from the signal itself: when start-up never hands the signal
 * on (it waits on a Redis or PostgreSQL that does not answer, say), the process still exits, with
 * code 1, once the deadline has passed. This module stays free of imports but for a constant, so that
 * it loads first and fast; it reads SHUTDOWN_MS itself, falling back to the default when the value is
 * not one the environment schemas accept (they report that once start-up parses them).
 */
import { DEFAULT_SHUTDOWN_MS, SHUTDOWN_MS_RANGE } from './shutdown.js';

/** What receives a stop signal: the signal, and Date.now() when it came. */
export type StopHandler = (signal: NodeJS.Signals, at: number) => void;

let caught: { readonly signal: NodeJS.Signals; readonly at: number } | null = null;
let handler: StopHandler | null = null;
let deadline: NodeJS.Timeout | undefined;

/** SHUTDOWN_MS as the environment schemas read it, or the default when it is unset or out of range. */
export function earlyDeadlineMs(value: string | undefined): number {
  const ms = value === undefined || value.trim() === '' ? NaN : Number(value);
  return Number.isInteger(ms) && ms >= SHUTDOWN_MS_RANGE[0] && ms <= SHUTDOWN_MS_RANGE[1] ? ms : DEFAULT_SHUTDOWN_MS;
}

const onSignal = (signal: NodeJS.Signals) => {
  const at = Date.now();
  if (handler) {
    handler(signal, at);
    return;
  }
  if (caught) return;
  caught = { signal, at };
  const ms = earlyDeadlineMs(process.env.SHUTDOWN_MS);
  deadline = setTimeout(() => {
    process.stderr.write(
      `${signal} during start-up, which has not finished ${ms / 1000} s later: exiting without waiting further\n`,
    );
    process.exit(1);
  }, ms);
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

/**
 * From this call on, every stop signal goes to `h`: first the one caught during start-up, if any (with
 * the time it came, so that the shutdown deadline keeps running from then), at once.
 */
export function takeStopSignals(h: StopHandler): void {
  handler = h;
  clearTimeout(deadline);
  if (caught) h(caught.signal, caught.at);
}
