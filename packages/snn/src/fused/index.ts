export { FusedEngine } from './fused-engine.js';
export { FusedPopulation } from './population.js';
