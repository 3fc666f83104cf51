export * from './plots.js';
