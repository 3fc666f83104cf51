import type { Engine, NetworkState } from './engine.js';
import { TfjsEngine } from './tfjs-engine.js';

export const ENGINE_NAMES = ['tfjs'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** Builds an engine for a network state. */
export async function createEngine(state: NetworkState, options: { engine?: EngineName } = {}): Promise<Engine> {
  const name = options.engine ?? 'tfjs';
  if (!(ENGINE_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`unknown engine '${name}'; valid: ${ENGINE_NAMES.join(', ')}`);
  }
  return TfjsEngine.create(state);
}
