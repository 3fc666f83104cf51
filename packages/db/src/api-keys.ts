import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DbClient } from './client.js';
import { NotFoundError, mapped } from './errors.js';
import type { ApiKey } from './generated/client.js';
import { checkOwner, isId } from './ids.js';

export const API_KEY_PREFIX = 'ip2_';
/** Characters of a key shown in listings (the fixed prefix and 8 random characters). */
const DISPLAY_LENGTH = API_KEY_PREFIX.length + 8;

export interface ApiKeyInfo {
  readonly id: string;
  readonly owner: string;
  readonly name: string;
  /** The key's first characters, to tell keys apart. */
  readonly prefix: string;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

export interface CreatedApiKey extends ApiKeyInfo {
  /** The key itself: shown once, never stored (only its SHA-256 is). */
  readonly key: string;
}

/** API keys: 256 random bits, stored as their SHA-256; every search belongs to a key's owner. */
export class ApiKeyRepository {
  constructor(private readonly db: DbClient) {}

  async create(owner: string, name: string): Promise<CreatedApiKey> {
    checkOwner(owner);
    if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
      throw new TypeError('name must be a non-empty string of at most 200 characters');
    }
    const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
    const row = await mapped(() =>
      this.db.apiKey.create({
        data: { owner, name, hash: digest(key).toString('hex'), prefix: key.slice(0, DISPLAY_LENGTH) },
      }),
    );
    return { ...info(row), key };
  }

  /**
   * The key's owner and name, or null when the key is unknown or revoked. The key is hashed before the
   * lookup, so the time taken does not depend on how much of a guess matches a stored key.
   */
  async authenticate(key: string): Promise<ApiKeyInfo | null> {
    if (typeof key !== 'string' || key.length > 1000) return null;
    const hash = digest(key);
    const row = await mapped(() => this.db.apiKey.findUnique({ where: { hash: hash.toString('hex') } }));
    if (row === null) return null;
    const stored = Buffer.from(row.hash, 'hex');
    if (stored.length !== hash.length || !timingSafeEqual(stored, hash)) return null;
    return row.revokedAt === null ? info(row) : null;
  }

  /** The owner's keys (without secrets), newest first. */
  async list(owner: string): Promise<ApiKeyInfo[]> {
    checkOwner(owner);
    const rows = await mapped(() =>
      this.db.apiKey.findMany({ where: { owner }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }),
    );
    return rows.map(info);
  }

  /** Keys of any owner whose display prefix starts with `prefix` (an operator's lookup; no secrets). */
  async byPrefix(prefix: string): Promise<ApiKeyInfo[]> {
    const rows = await mapped(() =>
      this.db.apiKey.findMany({ where: { prefix: { startsWith: prefix } }, orderBy: [{ createdAt: 'desc' }] }),
    );
    return rows.map(info);
  }

  /** Revokes one of the owner's keys (revoking it again changes nothing). */
  async revoke(owner: string, id: string): Promise<ApiKeyInfo> {
    checkOwner(owner);
    if (!isId(id)) throw new NotFoundError(`no API key ${id}`);
    await mapped(() =>
      this.db.apiKey.updateMany({ where: { id, owner, revokedAt: null }, data: { revokedAt: new Date() } }),
    );
    const row = await mapped(() => this.db.apiKey.findFirst({ where: { id, owner } }));
    if (row === null) throw new NotFoundError(`no API key ${id}`);
    return info(row);
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

function info(row: ApiKey): ApiKeyInfo {
  return {
    id: row.id,
    owner: row.owner,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt,
    revokedAt: row.revokedAt,
  };
}
