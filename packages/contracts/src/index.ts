export * from './jobs.js';
export * from './env.js';
export * from './queues.js';
export * from './http/index.js';
