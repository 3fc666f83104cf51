export * from './plots.js';
export * from './search-report.js';
export * from './configuration-analysis.js';
