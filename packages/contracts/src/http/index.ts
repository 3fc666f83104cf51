export * from './schemas.js';
export * from './views.js';
