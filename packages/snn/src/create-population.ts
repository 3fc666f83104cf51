import type { NetworkState } from './engine.js';
import { FusedPopulation } from './fused/population.js';
import { ThreadedPopulation, type ThreadedPopulationOptions } from './fused/threaded-population.js';
import type { GpuPopulationOptions } from './gpu/population.js';
import type { Population } from './population.js';

/**
 * `fused`: FusedPopulation, on the calling thread (default). `threaded`: ThreadedPopulation, the
 * same numbers spread over worker threads. `gpu`: GpuPopulation (experimental, WebGPU, model
 * version 1 only; loaded only when asked for).
 */
export const POPULATION_KINDS = ['fused', 'threaded', 'gpu'] as const;
export type PopulationKind = (typeof POPULATION_KINDS)[number];

export type PopulationOptions =
  | { readonly kind?: 'fused' }
  | ({ readonly kind: 'threaded' } & ThreadedPopulationOptions)
  | ({ readonly kind: 'gpu' } & GpuPopulationOptions);

/** The population kind named `name` (a RangeError listing the valid ones otherwise). */
export function parsePopulationKind(name: string): PopulationKind {
  if (!(POPULATION_KINDS as readonly string[]).includes(name)) {
    throw new RangeError(`unknown population kind '${name}'; valid: ${POPULATION_KINDS.join(', ')}`);
  }
  return name as PopulationKind;
}

/**
 * Builds a population of the given networks (all of the same sizes); `population.info` records which
 * engine computes them. A GPU population rejects with GpuUnavailableError where no WebGPU adapter can
 * be had, and with a RangeError for configurations it does not cover.
 */
export async function createPopulation(
  states: readonly NetworkState[],
  options: PopulationOptions = {},
): Promise<Population> {
  switch (options.kind) {
    case undefined:
    case 'fused':
      return FusedPopulation.create(states);
    case 'threaded':
      return ThreadedPopulation.create(states, options);
    case 'gpu': {
      const { GpuPopulation } = await import('./gpu/population.js');
      return GpuPopulation.create(states, options);
    }
  }
}
