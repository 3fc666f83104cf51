import { createHash } from 'node:crypto';
import { useTestStore } from '@ip2/testing/store';
import { describe, expect, it } from 'vitest';
import { API_KEY_PREFIX, ApiKeyRepository } from './api-keys.js';
import { createClient, type DbClient } from './client.js';
import { NotFoundError } from './errors.js';

// Only the modules under test: importing the whole package would load @ip2/search for nothing.
let client: DbClient;
let apiKeys: ApiKeyRepository;
useTestStore(
  (url) => {
    client = createClient({ url });
    apiKeys = new ApiKeyRepository(client);
    return client;
  },
  { close: (c) => c.$disconnect() },
);

describe('API keys', () => {
  it('returns the key once and stores only its SHA-256', async () => {
    const k = await apiKeys.create('alice', 'laptop');
    expect(k.key.startsWith(API_KEY_PREFIX)).toBe(true);
    expect(k.key.length).toBeGreaterThanOrEqual(API_KEY_PREFIX.length + 43);
    expect(k.prefix).toBe(k.key.slice(0, API_KEY_PREFIX.length + 8));
    const row = await client.apiKey.findUniqueOrThrow({ where: { id: k.id } });
    expect(row.hash).toBe(createHash('sha256').update(k.key).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(k.key);
    const listed = await apiKeys.list('alice');
    expect(listed).toEqual([
      { id: k.id, owner: 'alice', name: 'laptop', prefix: k.prefix, createdAt: k.createdAt, revokedAt: null },
    ]);
    expect(JSON.stringify(listed)).not.toContain(row.hash);
  });

  it('authenticates a key to its owner and nothing else', async () => {
    const k = await apiKeys.create('bob', 'ci');
    expect(await apiKeys.authenticate(k.key)).toMatchObject({ id: k.id, owner: 'bob', name: 'ci' });
    expect(await apiKeys.authenticate(k.key.slice(0, -1))).toBeNull();
    expect(await apiKeys.authenticate(`${k.key}x`)).toBeNull();
    expect(await apiKeys.authenticate('')).toBeNull();
    expect(await apiKeys.authenticate(k.prefix)).toBeNull();
    const other = await apiKeys.create('bob', 'ci');
    expect(other.key).not.toBe(k.key);
  });

  it('revokes a key for its owner only; a revoked key no longer authenticates', async () => {
    const k = await apiKeys.create('carol', 'old');
    await expect(apiKeys.revoke('mallory', k.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(await apiKeys.authenticate(k.key)).not.toBeNull();
    const revoked = await apiKeys.revoke('carol', k.id);
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect(await apiKeys.authenticate(k.key)).toBeNull();
    expect((await apiKeys.revoke('carol', k.id)).revokedAt).toEqual(revoked.revokedAt);
    expect(await apiKeys.list('mallory')).toEqual([]);
    await expect(apiKeys.revoke('carol', 'nope')).rejects.toBeInstanceOf(NotFoundError);
  });
});
