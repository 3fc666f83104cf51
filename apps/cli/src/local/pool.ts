import { Worker } from 'node:worker_threads';
import type { ChunkJob, TaskResult } from '@ip2/l2l';
import type { CliCompute } from '../compute.js';
import type { FromWorker, ToWorker } from './worker.js';

export interface ChunkCallbacks {
  onTask(result: TaskResult, checkpoint: Uint8Array, engine: { engine: string; backend: string }): void;
}

/** A chunk to train, the checkpoint it starts from, and where its results go. */
export interface PoolChunk {
  readonly job: ChunkJob;
  readonly checkpoint: Uint8Array | null;
  readonly callbacks: ChunkCallbacks;
}

/**
 * A fixed pool of worker threads, one set of chunks at a time each (trained together, see trainChunks). The worker script is the
 * compiled worker.js beside this file; run from TypeScript sources (tests), it is loaded through tsx.
 * Each thread gets `compute` as its workerData: the threads read no environment.
 */
export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly waiting: ((w: Worker) => void)[] = [];
  private closed = false;

  constructor(
    readonly size: number,
    compute: CliCompute = { logBackend: false },
  ) {
    const here = new URL(import.meta.url);
    const fromSource = here.pathname.endsWith('.ts');
    const script = new URL(fromSource ? './worker.ts' : './worker.js', here);
    for (let i = 0; i < size; i++) {
      // From sources, register tsx's loader inside the thread before importing the script.
      const w = fromSource
        ? new Worker(
            `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(script.href)}); });`,
            { eval: true, execArgv: ['--conditions', '@ip2/source'], workerData: compute },
          )
        : new Worker(script, { workerData: compute });
      w.unref();
      this.all.push(w);
      this.idle.push(w);
    }
  }

  get busy(): number {
    return this.size - this.idle.length;
  }

  private acquire(): Promise<Worker> {
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next(w);
    else this.idle.push(w);
  }

  /** Runs chunks together on the next free worker; resolves when the last task of each is in. */
  async run(chunks: readonly PoolChunk[]): Promise<void> {
    if (this.closed) throw new Error('worker pool is closed');
    const w = await this.acquire();
    try {
      await new Promise<void>((resolve, reject) => {
        const onMessage = (m: FromWorker) => {
          if (m.type === 'task') {
            try {
              chunks[m.index]!.callbacks.onTask(m.result as TaskResult, m.checkpoint, m.engine);
            } catch (e) {
              cleanup();
              reject(e instanceof Error ? e : new Error(String(e)));
            }
          } else if (m.type === 'done') {
            cleanup();
            resolve();
          } else if (m.type === 'error') {
            cleanup();
            reject(new Error(m.message));
          }
        };
        const onError = (e: Error) => {
          cleanup();
          reject(e);
        };
        const onExit = (code: number) => {
          cleanup();
          reject(new Error(`worker thread exited with code ${code}`));
        };
        const cleanup = () => {
          w.off('message', onMessage);
          w.off('error', onError);
          w.off('exit', onExit);
        };
        w.on('message', onMessage);
        w.on('error', onError);
        w.on('exit', onExit);
        const msg: ToWorker = { type: 'train', chunks: chunks.map((c) => ({ job: c.job, checkpoint: c.checkpoint })) };
        w.postMessage(msg);
      });
    } finally {
      this.release(w);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}
