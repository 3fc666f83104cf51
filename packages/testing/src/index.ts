export {
  createTestDatabase,
  DEFAULT_SERVER_URL,
  findMigrationsDir,
  readMigrations,
  withDatabase,
  type TestDatabase,
  type TestDatabaseOptions,
} from './postgres.js';
