export * from './stats.js';
export * from './correlation.js';
export * from './distributions.js';
export * from './activity.js';
export * from './lesion.js';
export * from './modularity.js';
export * from './sequence.js';
