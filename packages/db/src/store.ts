import { closeClient, createClient, type ClientOptions, type CloseOptions, type DbClient } from './client.js';
import { AnalysisRepository } from './analyses.js';
import { ApiKeyRepository } from './api-keys.js';
import { ControllerRepository } from './controller.js';
import { FixedConfigRepository } from './fixed-configs.js';
import { MonitorRepository } from './monitor.js';
import { RunRepository } from './runs.js';
import { SearchRepository } from './searches.js';

/** Every repository over one connection pool. */
export interface Store {
  readonly client: DbClient;
  readonly searches: SearchRepository;
  readonly runs: RunRepository;
  readonly controller: ControllerRepository;
  readonly fixedConfigs: FixedConfigRepository;
  readonly apiKeys: ApiKeyRepository;
  /** Analyses of completed searches' chosen configurations. */
  readonly analyses: AnalysisRepository;
  /** Progress-stream reads, counts and readiness, over all owners. */
  readonly monitor: MonitorRepository;
  /** Closes the pool, waiting a bounded time for the queries in progress (closeClient). */
  close(options?: CloseOptions): Promise<void>;
}

export function openStore(options: ClientOptions = {}): Store {
  return storeOf(createClient(options));
}

/** The repositories over an existing client (closing the store disconnects it). */
export function storeOf(client: DbClient): Store {
  return {
    client,
    searches: new SearchRepository(client),
    runs: new RunRepository(client),
    controller: new ControllerRepository(client),
    fixedConfigs: new FixedConfigRepository(client),
    apiKeys: new ApiKeyRepository(client),
    analyses: new AnalysisRepository(client),
    monitor: new MonitorRepository(client),
    close: (options) => closeClient(client, options),
  };
}
