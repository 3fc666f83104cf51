/**
 * How long a worker or the controller may take to stop after SIGTERM or SIGINT before it exits
 * regardless, with code 1 (SHUTDOWN_MS): well under the 90 s a supervisor usually allows.
 */
export const DEFAULT_SHUTDOWN_MS = 45_000;

/** The values SHUTDOWN_MS may take, in milliseconds (inclusive). */
export const SHUTDOWN_MS_RANGE = [1_000, 600_000] as const;
