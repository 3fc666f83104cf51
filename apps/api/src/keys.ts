#!/usr/bin/env node
import { API_KEY_PREFIX, openStore, type Store } from '@ip2/db';

const USAGE = `usage:
  ip2-api-keys create <owner> [name]   create a key for <owner>; the key is printed once
  ip2-api-keys revoke <prefix>         revoke the key whose listed prefix (${API_KEY_PREFIX}xxxxxxxx) or full key starts so
  ip2-api-keys list <owner>            list <owner>'s keys (prefixes only)
environment: DATABASE_URL`;

export class UsageError extends Error {}

/** Runs one management command; returns the lines to print. */
export async function runKeysCommand(store: Store, args: readonly string[]): Promise<string[]> {
  const [command, ...rest] = args;
  switch (command) {
    case 'create': {
      const [owner, name] = rest;
      if (owner === undefined || rest.length > 2) throw new UsageError('create takes <owner> [name]');
      const key = await store.apiKeys.create(owner, name ?? 'default');
      return [key.key, `created key ${key.prefix}… (id ${key.id}) for owner '${key.owner}'; it is shown only now`];
    }
    case 'revoke': {
      const [prefix] = rest;
      if (prefix === undefined || rest.length > 1) throw new UsageError('revoke takes <prefix>');
      const display = prefix.slice(0, API_KEY_PREFIX.length + 8);
      if (display.length < API_KEY_PREFIX.length + 4) {
        throw new UsageError(
          `prefix must be at least ${API_KEY_PREFIX.length + 4} characters (e.g. ${API_KEY_PREFIX}abcd)`,
        );
      }
      const rows = await store.apiKeys.byPrefix(display);
      if (rows.length === 0) throw new UsageError(`no key starts with '${prefix}'`);
      if (rows.length > 1) throw new UsageError(`${rows.length} keys start with '${prefix}': give more characters`);
      const row = rows[0]!;
      const info = await store.apiKeys.revoke(row.owner, row.id);
      return [`revoked key ${info.prefix}… of owner '${info.owner}' (${info.name})`];
    }
    case 'list': {
      const [owner] = rest;
      if (owner === undefined || rest.length > 1) throw new UsageError('list takes <owner>');
      const keys = await store.apiKeys.list(owner);
      return keys.map(
        (k) =>
          `${k.prefix}…  ${k.name}  created ${k.createdAt.toISOString()}${k.revokedAt ? `  revoked ${k.revokedAt.toISOString()}` : ''}`,
      );
    }
    default:
      throw new UsageError(command === undefined ? 'no command' : `unknown command '${command}'`);
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.length === 0 || args[0] === '--help' || args[0] === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return args.length === 0 ? 2 : 0;
  }
  const store = openStore();
  try {
    for (const line of await runKeysCommand(store, args)) process.stdout.write(`${line}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof TypeError) {
      process.stderr.write(`ip2-api-keys: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`ip2-api-keys: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

// Run as a command, not when imported (tests import runKeysCommand).
if (process.argv[1] !== undefined && /keys\.(js|ts)$/.test(process.argv[1])) {
  process.exitCode = await main();
}
