export * from './backend.js';
export { TfjsEngine, makeSpike } from './tfjs-engine.js';
export { matMulT } from './tf-ops.js';
