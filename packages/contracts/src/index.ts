export * from './jobs.js';
export * from './env.js';
