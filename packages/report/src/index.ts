export * from './plots.js';
export * from './search-report.js';
export * from './search-outputs.js';
export * from './configuration-analysis.js';
export * from './firing.js';
export * from './evidence.js';
