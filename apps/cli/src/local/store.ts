import { appendFileSync, existsSync, fsyncSync, openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { completeTaskResult } from '@ip2/l2l';
import { taskRecordTable, type SearchTaskRecord } from '@ip2/report';
import type { ResultTable } from '@ip2/search';
import { writeAtomic } from '../output.js';

/** One stored task result of a search: which run it belongs to, and the full record. */
export type StoredResult = SearchTaskRecord;

const RESULTS = 'results.jsonl';
const DEFINITION = 'search.json';

/** JSON numbers cannot be NaN or ±∞: they are written as strings and read back. */
const replacer = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
const NON_FINITE = new Set(['NaN', 'Infinity', '-Infinity']);
const reviver = (_k: string, v: unknown) => (typeof v === 'string' && NON_FINITE.has(v) ? Number(v) : v);

/**
 * The local mode's store: a folder with the search definition, an append-only log of task
 * results (one JSON line each, flushed to disk before the checkpoint that follows it), and the
 * latest checkpoint of every run. A result is written before its checkpoint, so after a crash a
 * run's checkpoint is never ahead of its results.
 */
export class FileStore {
  private readonly seen = new Set<string>();
  private readonly rows: StoredResult[] = [];

  constructor(readonly dir: string) {}

  static hasSearch(dir: string): boolean {
    return existsSync(join(dir, DEFINITION));
  }

  writeDefinition(definition: unknown): void {
    writeAtomic(join(this.dir, DEFINITION), JSON.stringify(definition, null, 2) + '\n');
  }

  readDefinition(): unknown {
    return JSON.parse(readFileSync(join(this.dir, DEFINITION), 'utf8'));
  }

  /** Loads the results written so far (resuming); a torn last line (a crash mid-write) is ignored. */
  load(): void {
    const path = join(this.dir, RESULTS);
    if (!existsSync(path)) return;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let r: StoredResult;
      try {
        r = JSON.parse(line, reviver) as StoredResult;
      } catch {
        continue;
      }
      // A result written before a field existed reads it as NaN.
      this.remember({ ...r, result: completeTaskResult(r.result) });
    }
  }

  private key(candidate: string, seedIndex: number, taskIndex: number): string {
    return `${candidate}/${seedIndex}/${taskIndex}`;
  }

  private remember(r: StoredResult): boolean {
    const k = this.key(r.candidate, r.seedIndex, r.result.taskIndex);
    if (this.seen.has(k)) return false;
    this.seen.add(k);
    this.rows.push(r);
    return true;
  }

  /** Appends a result (a repeat of a stored one is a no-op) and then the run's checkpoint. */
  record(r: StoredResult, checkpoint: Uint8Array): void {
    if (this.remember(r)) {
      const fd = openSync(join(this.dir, RESULTS), 'a');
      try {
        appendFileSync(fd, JSON.stringify(r, replacer) + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    writeAtomic(this.checkpointPath(r.candidate, r.seedIndex), checkpoint);
  }

  checkpointPath(candidate: string, seedIndex: number): string {
    return join(this.dir, 'checkpoints', `${candidate}-${seedIndex}.bin`);
  }

  checkpoint(candidate: string, seedIndex: number): Uint8Array | null {
    const p = this.checkpointPath(candidate, seedIndex);
    return existsSync(p) ? new Uint8Array(readFileSync(p)) : null;
  }

  checkpointCount(): number {
    const d = join(this.dir, 'checkpoints');
    return existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.bin')).length : 0;
  }

  results(): readonly StoredResult[] {
    return this.rows;
  }

  table(): ResultTable {
    return taskRecordTable(this.rows);
  }
}
