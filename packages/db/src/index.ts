export { AnalysisRepository, type AnalysisState, type StoredAnalysis } from './analyses.js';
export { API_KEY_PREFIX, ApiKeyRepository, type ApiKeyInfo, type CreatedApiKey } from './api-keys.js';
export {
  closeClient,
  closeLogged,
  createClient,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_DATABASE_URL,
  type ClientOptions,
  type CloseOptions,
  type DbClient,
} from './client.js';
export { ControllerRepository, type CandidateUpdate } from './controller.js';
export {
  ActiveLimitError,
  ClaimLostError,
  ConflictError,
  DbError,
  isRetryable,
  NETWORK_ERROR_CODES,
  mapError,
  NotFoundError,
  toDbError,
  UnavailableError,
} from './errors.js';
export {
  FixedConfigRepository,
  type FixedConfigFilter,
  type SavedFixedConfig,
  type StoredFixedConfig,
} from './fixed-configs.js';
export {
  RunRepository,
  type ClaimOptions,
  type RecordOutcome,
  type ReleaseState,
  type RunClaim,
  type StoredCheckpoint,
  type WorkerInfo,
} from './runs.js';
export { MonitorRepository, type ResultCursor, type StreamedResult, type TaskFields } from './monitor.js';
export { taskFailure, type SearchTaskResult } from './results.js';
export {
  SearchRepository,
  type CreatedSearch,
  type CreateSearchInput,
  type ListOptions,
  type PageQuery,
  type SearchPage,
} from './searches.js';
export { openStore, storeOf, type Store } from './store.js';
export * from './types.js';
export { searchRecord } from './records.js';
