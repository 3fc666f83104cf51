import { randomUUID } from 'node:crypto';
import {
  CURRENT_MODEL_VERSION,
  fixedConfigModelVersion,
  MODEL_VERSIONS,
  verifyFixedConfig,
  type FixedConfig,
  type ModelVersion,
} from '@ip2/search';
import type { DbClient } from './client.js';
import { ConflictError, DbError, NotFoundError, mapped, toDbError } from './errors.js';
import type { FixedConfig as FixedConfigRow } from './generated/client.js';
import { jsonb } from './sql.js';
import { isId } from './ids.js';

export interface StoredFixedConfig {
  readonly id: string;
  readonly family: string;
  /** 1, 2, ... per family, in the order the configurations were fixed (across model versions). */
  readonly version: number;
  /** The version of the model's defaults the record was measured under (fixedConfigModelVersion of @ip2/search). */
  readonly modelVersion: ModelVersion;
  readonly bits: string;
  readonly hash: string;
  readonly searchId: string | null;
  readonly createdAt: Date;
  readonly record: FixedConfig;
}

export interface SavedFixedConfig {
  readonly config: StoredFixedConfig;
  /** False when the same record (same hash) was already stored: nothing was written. */
  readonly created: boolean;
}

const ATTEMPTS = 5;

/** Which of a family's configurations to list. */
export interface FixedConfigFilter {
  /** Only those measured under this model version (all when absent). */
  readonly modelVersion?: number;
}

/**
 * Fixed configurations: written once, never changed (the table refuses updates), versioned per family.
 * Storing a record that is already stored returns the stored version. Configurations of several model
 * versions may coexist for one family (the version numbers run across them); the family's current one
 * is always asked for per model version (latest), so that one fixed under other model defaults is never
 * taken for it.
 */
export class FixedConfigRepository {
  constructor(private readonly db: DbClient) {}

  /** Stores a fixed configuration record (its hash must match its content) as the family's next version. */
  async save(record: FixedConfig, options: { readonly searchId?: string } = {}): Promise<SavedFixedConfig> {
    if (!verifyFixedConfig(record)) throw new RangeError('fixed configuration: the hash does not match the record');
    if (options.searchId !== undefined && !isId(options.searchId)) {
      throw new NotFoundError(`no search ${options.searchId}`);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const existing = await this.byHash(record.hash);
        if (existing) return { config: existing, created: false };
        const row = await this.db.$transaction(async (tx) => {
          const last = await tx.fixedConfig.aggregate({ where: { family: record.family }, _max: { version: true } });
          const id = randomUUID();
          // Raw SQL: Prisma's query API would round the record's numbers and break its hash (see jsonb()).
          await tx.$executeRaw`
            INSERT INTO "FixedConfig" ("id", "family", "version", "modelVersion", "bits", "record", "hash", "searchId")
            VALUES (${id}::uuid, ${record.family}, ${(last._max.version ?? 0) + 1}::int,
              ${fixedConfigModelVersion(record)}::int, ${record.mask.bits}, ${jsonb(record)}, ${record.hash},
              ${options.searchId ?? null}::uuid)`;
          return tx.fixedConfig.findUniqueOrThrow({ where: { id } });
        });
        return { config: stored(row), created: true };
      } catch (e) {
        const mapped = toDbError(e);
        // Another writer took the same version number or stored the same record: look again.
        if (mapped instanceof ConflictError && attempt < ATTEMPTS) continue;
        throw mapped ?? e;
      }
    }
  }

  /**
   * The family's current configuration for a model version (default: the current one): its newest
   * version fixed under that model version, or null when none was. One fixed under another model
   * version is never returned, however new.
   */
  async latest(family: string, modelVersion: ModelVersion = CURRENT_MODEL_VERSION): Promise<StoredFixedConfig | null> {
    if (!(MODEL_VERSIONS as readonly number[]).includes(modelVersion)) {
      throw new RangeError(`model version must be one of ${MODEL_VERSIONS.join(', ')}, got ${String(modelVersion)}`);
    }
    const row = await mapped(() =>
      this.db.fixedConfig.findFirst({ where: { family, modelVersion }, orderBy: { version: 'desc' } }),
    );
    return row === null ? null : stored(row);
  }

  async get(family: string, version: number): Promise<StoredFixedConfig> {
    if (!Number.isInteger(version) || version < 1 || version > 0x7fffffff) {
      throw new NotFoundError(`no fixed configuration ${family} v${version}`);
    }
    const row = await mapped(() => this.db.fixedConfig.findUnique({ where: { family_version: { family, version } } }));
    if (row === null) throw new NotFoundError(`no fixed configuration ${family} v${version}`);
    return stored(row);
  }

  /** Every version of the family (of one model version when the filter names it), oldest first. */
  async list(family: string, filter: FixedConfigFilter = {}): Promise<StoredFixedConfig[]> {
    const where = filter.modelVersion === undefined ? { family } : { family, modelVersion: filter.modelVersion };
    const rows = await mapped(() => this.db.fixedConfig.findMany({ where, orderBy: { version: 'asc' } }));
    return rows.map(stored);
  }

  /** The configuration with this id, or null. */
  async byId(id: string): Promise<StoredFixedConfig | null> {
    if (!isId(id)) return null;
    const row = await mapped(() => this.db.fixedConfig.findUnique({ where: { id } }));
    return row === null ? null : stored(row);
  }

  /** The configuration fixed by this search, or null (a search fixes at most one). */
  async bySearch(searchId: string): Promise<StoredFixedConfig | null> {
    if (!isId(searchId)) return null;
    const row = await mapped(() => this.db.fixedConfig.findFirst({ where: { searchId }, orderBy: { version: 'asc' } }));
    return row === null ? null : stored(row);
  }

  async byHash(hash: string): Promise<StoredFixedConfig | null> {
    const row = await mapped(() => this.db.fixedConfig.findUnique({ where: { hash } }));
    return row === null ? null : stored(row);
  }
}

function stored(row: FixedConfigRow): StoredFixedConfig {
  const record = row.record as unknown as FixedConfig;
  if (!verifyFixedConfig(record)) {
    throw new DbError(`fixed configuration ${row.family} v${row.version}: the stored record does not match its hash`);
  }
  return {
    id: row.id,
    family: row.family,
    version: row.version,
    modelVersion: fixedConfigModelVersion(record),
    bits: row.bits,
    hash: row.hash,
    searchId: row.searchId,
    createdAt: row.createdAt,
    record,
  };
}
