import { accessSync, constants, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './errors.js';

/** Makes sure `dir` exists (creating it) and is writable; a UsageError naming `flag` otherwise. */
export function ensureWritableDir(flag: string, dir: string): string {
  const abs = resolve(dir);
  try {
    if (!existsDir(abs)) mkdirSync(abs, { recursive: true });
    accessSync(abs, constants.W_OK);
  } catch (e) {
    const why = e instanceof Error && 'code' in e ? String((e as NodeJS.ErrnoException).code) : String(e);
    throw new UsageError(`${flag}: cannot write to '${dir}' (${why})`);
  }
  return abs;
}

function existsDir(p: string): boolean {
  try {
    const s = statSync(p);
    if (!s.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** Writes a file atomically (temporary name, then rename), so a reader never sees half a file. */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${Date.now()}-${process.pid}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export { toCsv, toJson } from '@ip2/report';
