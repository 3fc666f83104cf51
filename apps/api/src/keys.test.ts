import { openStore, type Store } from '@ip2/db';
import { useTestStore } from '@ip2/testing/store';
import { describe, expect, it } from 'vitest';
import { runKeysCommand, UsageError } from './keys.js';

let store: Store;
useTestStore((url) => (store = openStore({ url, poolSize: 2 })));

describe('key management', () => {
  it('creates a key shown once, lists it by prefix, and revokes it by prefix', async () => {
    const [key, note] = await runKeysCommand(store, ['create', 'dave', 'laptop']);
    expect(key).toMatch(/^ip2_[A-Za-z0-9_-]{40,}$/);
    expect(note).toContain("owner 'dave'");
    expect((await store.apiKeys.authenticate(key!))?.owner).toBe('dave');
    const listed = await runKeysCommand(store, ['list', 'dave']);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toContain(key!.slice(0, 12));
    expect(listed[0]).not.toContain(key!.slice(12));
    const [revoked] = await runKeysCommand(store, ['revoke', key!.slice(0, 12)]);
    expect(revoked).toContain('revoked');
    expect(await store.apiKeys.authenticate(key!)).toBeNull();
  });

  it('refuses bad usage', async () => {
    await expect(runKeysCommand(store, ['revoke', 'ip2_zzzzzzzz'])).rejects.toBeInstanceOf(UsageError);
    await expect(runKeysCommand(store, ['revoke', 'ip2'])).rejects.toBeInstanceOf(UsageError);
    await expect(runKeysCommand(store, ['create'])).rejects.toBeInstanceOf(UsageError);
    await expect(runKeysCommand(store, ['frobnicate'])).rejects.toBeInstanceOf(UsageError);
  });
});
