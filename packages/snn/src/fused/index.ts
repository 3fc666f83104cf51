export { FusedEngine } from './fused-engine.js';
export { FusedPopulation } from './population.js';
export { ThreadedPopulation, type ThreadedPopulationOptions } from './threaded-population.js';
