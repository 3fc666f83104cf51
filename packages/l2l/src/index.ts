export * from './metrics.js';
export * from './learner.js';
export * from './protocol.js';
export * from './models/spiking.js';
export * from './models/registry.js';
export * from './chunk.js';
export * from './analyses/index.js';
