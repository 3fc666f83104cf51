import * as tf from '@tensorflow/tfjs-core';

export const TF_BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type TfBackendName = (typeof TF_BACKENDS)[number];

/** Environment variable that forces a TensorFlow.js backend. */
export const BACKEND_ENV = 'IP2_TF_BACKEND';

export interface BackendChoice {
  readonly backend: TfBackendName;
  /** Why this one: forced by the environment, or the first that loaded. */
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
 * Picks the TensorFlow.js backend once per process: `tensorflow` (native, if @tensorflow/tfjs-node-gpu
 * or @tensorflow/tfjs-node is installed), else `wasm`, else `cpu`. IP2_TF_BACKEND forces one; a
 * forced backend that fails to load is an error, not a silent fallback.
 */
export function resolveBackend(log: (line: string) => void = defaultLog): Promise<BackendChoice> {
  chosen ??= (async () => {
    const forced = process.env[BACKEND_ENV]?.trim();
    if (forced) {
      if (!(TF_BACKENDS as readonly string[]).includes(forced)) {
        throw new RangeError(`${BACKEND_ENV}='${forced}' is not a backend; valid: ${TF_BACKENDS.join(', ')}`);
      }
      const err = await tryLoad(forced as TfBackendName);
      if (err) throw new Error(`${BACKEND_ENV}=${forced} could not be loaded (${err})`);
      const choice = { backend: forced as TfBackendName, reason: `forced by ${BACKEND_ENV}`, skipped: [] };
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

function defaultLog(line: string): void {
  if (process.env.IP2_LOG !== 'silent') process.stderr.write(`ip2: ${line}\n`);
}
