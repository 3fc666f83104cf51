export * from './plots.js';
export * from './search-report.js';
