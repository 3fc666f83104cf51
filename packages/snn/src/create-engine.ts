import type { Engine, NetworkState } from './engine.js';
import { FusedEngine } from './fused/index.js';
import { TfjsEngine } from './tfjs/tfjs-engine.js';

/**
 * `fused`: the hand-derived engine over typed arrays (default; covers every configuration of the
 * model). `tfjs`: the TensorFlow.js autodiff reference, on the backend the resolver picks.
 */
export const ENGINE_NAMES = ['fused', 'tfjs'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** Environment variable that forces an engine for every network of the process. */
export const ENGINE_ENV = 'IP2_ENGINE';

/** The engine createEngine builds: the one asked for, else IP2_ENGINE, else `fused`. */
export function resolveEngineName(options: { engine?: EngineName } = {}): EngineName {
  const name = options.engine ?? process.env[ENGINE_ENV] ?? 'fused';
  if (!(ENGINE_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`unknown engine '${name}'; valid: ${ENGINE_NAMES.join(', ')}`);
  }
  return name as EngineName;
}

/** Builds an engine for a network state; `engine.info` records which one it is. */
export async function createEngine(state: NetworkState, options: { engine?: EngineName } = {}): Promise<Engine> {
  return resolveEngineName(options) === 'tfjs' ? TfjsEngine.create(state) : FusedEngine.create(state);
}
