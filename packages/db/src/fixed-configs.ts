import { randomUUID } from 'node:crypto';
import { verifyFixedConfig, type FixedConfig } from '@ip2/search';
import type { DbClient } from './client.js';
import { ConflictError, DbError, NotFoundError, mapped, toDbError } from './errors.js';
import type { FixedConfig as FixedConfigRow } from './generated/client.js';
import { jsonb } from './sql.js';
import { isId } from './ids.js';

export interface StoredFixedConfig {
  readonly id: string;
  readonly family: string;
  /** 1, 2, ... per family, in the order the configurations were fixed. */
  readonly version: number;
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

/**
 * Fixed configurations: written once, never changed (the table refuses updates), versioned per family.
 * Storing a record that is already stored returns the stored version.
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
            INSERT INTO "FixedConfig" ("id", "family", "version", "bits", "record", "hash", "searchId")
            VALUES (${id}::uuid, ${record.family}, ${(last._max.version ?? 0) + 1}::int, ${record.mask.bits},
              ${jsonb(record)}, ${record.hash}, ${options.searchId ?? null}::uuid)`;
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

  /** The family's newest version, or null when none was fixed. */
  async latest(family: string): Promise<StoredFixedConfig | null> {
    const row = await mapped(() => this.db.fixedConfig.findFirst({ where: { family }, orderBy: { version: 'desc' } }));
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

  /** Every version of the family, oldest first. */
  async list(family: string): Promise<StoredFixedConfig[]> {
    const rows = await mapped(() => this.db.fixedConfig.findMany({ where: { family }, orderBy: { version: 'asc' } }));
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
    bits: row.bits,
    hash: row.hash,
    searchId: row.searchId,
    createdAt: row.createdAt,
    record,
  };
}
