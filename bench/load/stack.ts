/** The service under load: a stack of test/support/stack.ts per phase, stopped on Ctrl-C. */
import type { ChildProcess } from 'node:child_process';
import type { Store } from '@ip2/db';
import type { SearchDefinitionInput } from '@ip2/search';
import { freePort, Stack, type App } from '../../test/support/stack.js';
import { API_HEAP_MIB, REDIS_URL, RUN_ENV } from './options.js';

/** A small search: the tiny preset's network and protocol. */
export function definition(baseSeed: number, o: { keys: number; seeds: number; tasks: number }): SearchDefinitionInput {
  return {
    family: 'sma',
    space: (['tauD', 'theta', 'tauS'] as const).slice(0, o.keys),
    strategy: { kind: 'exhaustive' },
    protocol: {
      tasks: o.tasks,
      seeds: o.seeds,
      baseSeed,
      criterion: { window: 20, epsilon: 0.05 },
      iterationCap: 400,
      evalBatch: 16,
      network: { hidden: 16, lr: 3e-3 },
    },
  };
}

/** A stack of test/support/stack.ts (database, queue prefix, processes) with an API key and the API's address. */
export class LoadStack {
  apiKey = '';
  /** The keys the submission clients use, one owner each (`--keys`); the first is `apiKey`. */
  apiKeys: string[] = [];
  base = '';
  private closed = false;

  private constructor(readonly stack: Stack) {}

  static async open(): Promise<LoadStack> {
    const s = new LoadStack(await Stack.create({ redisUrl: REDIS_URL, env: RUN_ENV }));
    s.apiKey = (await s.stack.store.apiKeys.create('load', 'bench')).key;
    s.apiKeys = [s.apiKey];
    return s;
  }

  get store(): Store {
    return this.stack.store;
  }

  /** Creates keys (owners) until there are `n`. */
  async ensureKeys(n: number): Promise<void> {
    while (this.apiKeys.length < n)
      this.apiKeys.push((await this.store.apiKeys.create(`load-${this.apiKeys.length}`, 'bench')).key);
  }

  get prefix(): string {
    return this.stack.prefix;
  }

  private start(name: string, app: App, env: Record<string, string> = {}): ChildProcess {
    const p = this.stack.start(name, app, { env });
    p.on('exit', (code, signal) => {
      if (!this.closed) {
        process.stderr.write(`bench:load: ${name} exited early (${code ?? signal})\n${this.log(name)}\n`);
      }
    });
    return p;
  }

  log(name: string): string {
    return (this.stack.logs.get(name) ?? '').slice(-4000);
  }

  /** Starts the API on a free port and waits until it is ready; its process id. */
  async startApi(): Promise<number> {
    const port = await freePort();
    const p = this.start('api', 'api', {
      PORT: String(port),
      HOST: '127.0.0.1',
      ...(API_HEAP_MIB === null ? {} : { NODE_OPTIONS: `--max-old-space-size=${API_HEAP_MIB}` }),
    });
    this.base = `http://127.0.0.1:${port}`;
    await this.stack.until(
      'the API to be ready',
      () =>
        fetch(`${this.base}/readyz`).then(
          (r) => r.ok,
          () => false,
        ),
      90_000,
    );
    return p.pid!;
  }

  startController(): void {
    this.start('controller', 'controller');
  }

  /** Starts n workers and waits until each says it is ready. */
  async startWorkers(n: number, concurrency = 1): Promise<void> {
    for (let i = 1; i <= n; i++) {
      this.start(`w${i}`, 'worker', { WORKER_ID: `w${i}`, WORKER_CONCURRENCY: String(concurrency) });
    }
    for (let i = 1; i <= n; i++) await this.stack.logged(`w${i}`, /ready:/, 180_000);
  }

  async submit(body: SearchDefinitionInput): Promise<string> {
    const r = await fetch(`${this.base}/v1/searches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await r.json()) as { id?: string };
    if (r.status !== 201 || json.id === undefined) throw new Error(`submission: ${r.status} ${JSON.stringify(json)}`);
    return json.id;
  }

  async cancel(id: string): Promise<void> {
    await fetch(`${this.base}/v1/searches/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${this.apiKey}` },
    }).catch(() => undefined);
  }

  /** Kills every process (and a worker's sandboxed children), drops the database, deletes the queue keys. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stack.close();
  }
}

export const stacks: LoadStack[] = [];
export async function newStack(): Promise<LoadStack> {
  const s = await LoadStack.open();
  stacks.push(s);
  return s;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench:load: ${signal}: stopping the stack\n`);
    Promise.allSettled(stacks.map((s) => s.close())).finally(() => process.exit(130));
  });
}
