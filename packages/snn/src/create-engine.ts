import type { Engine, NetworkState } from './engine.js';
import { FusedEngine } from './fused/index.js';
import type { BackendOptions } from './tfjs/backend.js';
import { TfjsEngine } from './tfjs/tfjs-engine.js';

/**
 * `fused`: the hand-derived engine over typed arrays (default; covers every configuration of the
 * model). `tfjs`: the TensorFlow.js autodiff reference, on the backend the resolver picks.
 */
export const ENGINE_NAMES = ['fused', 'tfjs'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** The environment variable from which the apps (worker, CLI) take the engine; this package reads none. */
export const ENGINE_ENV = 'IP2_ENGINE';

/** How networks are computed, as the app chose it (from its flags or environment) and passes it in. */
export interface ComputeOptions {
  /** The engine (absent: `fused`). */
  readonly engine?: EngineName;
  /** How the `tfjs` engine picks its TensorFlow.js backend (resolveBackend's options). */
  readonly tf?: BackendOptions;
}

/** The engine createEngine builds: the one asked for, else `fused`. */
export function resolveEngineName(options: { engine?: EngineName } = {}): EngineName {
  const name = options.engine ?? 'fused';
  if (!(ENGINE_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`unknown engine '${String(name)}'; valid: ${ENGINE_NAMES.join(', ')}`);
  }
  return name;
}

/** Builds an engine for a network state; `engine.info` records which one it is. */
export async function createEngine(state: NetworkState, options: ComputeOptions = {}): Promise<Engine> {
  return resolveEngineName(options) === 'tfjs' ? TfjsEngine.create(state, options.tf) : FusedEngine.create(state);
}
