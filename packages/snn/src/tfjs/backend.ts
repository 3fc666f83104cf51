import * as tf from '@tensorflow/tfjs-core';

export const TF_BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type TfBackendName = (typeof TF_BACKENDS)[number];

/** The environment variable from which the apps (worker, CLI) take a backend to force; this package reads none. */
export const BACKEND_ENV = 'IP2_TF_BACKEND';

/** How the backend is chosen: by the app, which passes in what it parsed (the library reads no environment). */
export interface BackendOptions {
  /** A backend to force (absent: the first of tensorflow, wasm, cpu that loads). */
  readonly backend?: TfBackendName;
  /** Who forced it, for the reason and the errors (e.g. the variable an app read it from; default: `backend`). */
  readonly forcedBy?: string;
  /** Where the choice is reported, one line (default: nowhere). */
  readonly log?: (line: string) => void;
}

export interface BackendChoice {
  readonly backend: TfBackendName;
  /** Why this one: forced (by whom), or the first that loaded. */
  readonly reason: string;
  /** Backends tried before it, with why each was passed over. */
  readonly skipped: readonly string[];
}

let chosen: Promise<BackendChoice> | null = null;

async function tryLoad(name: TfBackendName): Promise<string | null> {
  try {
    if (name === 'tensorflow') {
      // Native TensorFlow: CUDA build first, then the CPU build. Both are optional dependencies.
      try {
        await import('@tensorflow/tfjs-node-gpu' as string);
      } catch {
        await import('@tensorflow/tfjs-node' as string);
      }
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
    } else {
      await import('@tensorflow/tfjs-backend-cpu');
    }
    if (!(await tf.setBackend(name))) return `${name}: backend failed to initialise`;
    await tf.ready();
    return null;
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return `${name}: ${msg}`;
  }
}

/**
 * Picks the TensorFlow.js backend once per process (TensorFlow.js has one global backend: the first
 * call decides, later calls get its choice): `options.backend` if given, else `tensorflow` (native, if
 * @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node is installed), else `wasm`, else `cpu`. A forced
 * backend that fails to load is an error, not a silent fallback.
 */
export function resolveBackend(options: BackendOptions = {}): Promise<BackendChoice> {
  const log = options.log ?? (() => undefined);
  chosen ??= (async () => {
    const forced = options.backend;
    if (forced !== undefined) {
      const by = options.forcedBy ?? 'backend';
      if (!(TF_BACKENDS as readonly string[]).includes(forced)) {
        throw new RangeError(`${by}='${String(forced)}' is not a backend; valid: ${TF_BACKENDS.join(', ')}`);
      }
      const err = await tryLoad(forced);
      if (err) throw new Error(`${by}=${forced} could not be loaded (${err})`);
      const choice = { backend: forced, reason: `forced by ${by}`, skipped: [] };
      log(`TensorFlow.js backend: ${choice.backend} (${choice.reason})`);
      return choice;
    }
    const skipped: string[] = [];
    for (const name of TF_BACKENDS) {
      const err = await tryLoad(name);
      if (err === null) {
        const choice = { backend: name, reason: 'first available', skipped };
        log(`TensorFlow.js backend: ${name}${skipped.length ? ` (skipped ${skipped.join('; ')})` : ''}`);
        return choice;
      }
      skipped.push(err);
    }
    throw new Error(`no TensorFlow.js backend could be loaded: ${skipped.join('; ')}`);
  })();
  chosen.catch(() => {
    chosen = null;
  });
  return chosen;
}
