/** The flags of `npm run bench:load` (parsed when this module loads: a bad flag exits with code 2), and the run's environment. */
import { parseArgs } from 'node:util';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Environment of every process of the run (besides DATABASE_URL, REDIS_URL, QUEUE_PREFIX, PORT). */
export const RUN_ENV: Record<string, string> = {
  // One key submits everything: the per-key limit is lifted to its maximum (1,000,000 per minute).
  RATE_LIMIT_MAX: '1000000',
  RATE_LIMIT_WINDOW_MS: '60000',
  // Every submitted search stays queued (no workers in phase 1): lift the per-owner ceiling on them.
  MAX_ACTIVE_SEARCHES: '1000000',
  // Sampled during the event-stream phase (the V8 heap) without a key.
  METRICS_PUBLIC: 'true',
  LOG_LEVEL: 'info',
  WORKER_CONCURRENCY: '1',
  HEARTBEAT_MS: '2000',
  LOCK_MS: '30000',
  STALE_MS: '30000',
  TICK_MS: '5000',
};

function usage(message: string): never {
  process.stderr.write(`bench:load: ${message}\n`);
  process.exit(2);
}

const { values: flags } = (() => {
  try {
    return parseArgs({
      options: {
        clients: { type: 'string', default: '50' },
        keys: { type: 'string', default: '50' },
        'submit-seconds': { type: 'string', default: '30' },
        streams: { type: 'string', default: '300' },
        'stream-seconds': { type: 'string', default: '90' },
        workers: { type: 'string', default: '8' },
        runs: { type: 'string', default: '32' },
        tasks: { type: 'string', default: '3' },
        phases: { type: 'string', default: '1,2,3' },
        'api-heap-mib': { type: 'string' },
      },
      strict: true,
    });
  } catch (e) {
    usage((e as Error).message);
  }
})();

function positive(name: keyof typeof flags, max: number): number {
  const raw = flags[name];
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > max) usage(`--${name} must be an integer from 1 to ${max} (got '${raw}')`);
  return v;
}

export const CLIENTS = positive('clients', 1000);
/** API keys (owners) the submitting clients are spread over: a key's submissions are serialised. */
export const KEYS = positive('keys', 1000);
export const SUBMIT_S = positive('submit-seconds', 3600);
export const STREAMS = positive('streams', 5000);
export const STREAM_S = positive('stream-seconds', 3600);
export const WORKERS = positive('workers', 64);
export const RUNS = positive('runs', 1024);
export const TASKS = positive('tasks', 100);
export const PHASES = new Set(flags.phases.split(','));
/**
 * The API's V8 old space, capped (--max-old-space-size): memory that is only garbage not yet collected
 * stays under the cap, a leak ends the process with an out-of-memory error. Default: Node's own limit.
 */
export const API_HEAP_MIB = flags['api-heap-mib'] === undefined ? null : positive('api-heap-mib', 65_536);
if ([...PHASES].some((p) => !['1', '2', '3'].includes(p))) {
  usage(`--phases must be a comma-separated subset of 1,2,3 (got '${flags.phases}')`);
}
// An exhaustive search over k properties has 2^k candidates: runs = 2^k × seeds.
export const SPACE_KEYS = RUNS >= 8 ? 3 : RUNS >= 4 ? 2 : 1;
if (RUNS % 2 ** SPACE_KEYS !== 0) usage(`--runs must be 1, 2 or a multiple of ${2 ** SPACE_KEYS}`);
