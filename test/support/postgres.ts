import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, sleep } from './stack.js';

/**
 * A PostgreSQL cluster of the test's own (like OwnRedis): `initdb` into a temporary folder and a server
 * on a free loopback port, managed with pg_ctl as an operator would. `kill()` sends SIGKILL to the
 * postmaster's process group (pg_ctl starts it in a session of its own), so that the postmaster and
 * every backend die at once with no shutdown checkpoint; `start()` then recovers the cluster from its
 * write-ahead log. The shared server is never touched.
 *
 * Run as root (as CI is), the cluster belongs to the `postgres` user (initdb refuses root): its
 * programs run as that user through `setpriv`.
 */
export class OwnPostgres {
  private readonly user: { uid: number; gid: number } | null;

  private constructor(
    readonly bin: string,
    readonly dir: string,
    readonly port: number,
  ) {
    this.user = process.getuid?.() === 0 ? postgresUser() : null;
  }

  /** Initialises a cluster in a temporary folder and starts it. */
  static async create(): Promise<OwnPostgres> {
    const bin = postgresBin();
    const dir = mkdtempSync(join(tmpdir(), 'ip2-pg-'));
    const p = new OwnPostgres(bin, dir, await freePort());
    if (p.user) chownSync(dir, p.user.uid, p.user.gid);
    p.run('initdb', ['-D', p.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    await p.start();
    return p;
  }

  get data(): string {
    return join(this.dir, 'data');
  }

  private get logFile(): string {
    return join(this.dir, 'server.log');
  }

  /** A connection string to the cluster's `postgres` database (createTestDatabase's serverUrl). */
  get serverUrl(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** The server's log since the cluster was created. */
  get log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** The postmaster's pid (from postmaster.pid), or null when the file is absent. */
  get pid(): number | null {
    try {
      const pid = Number(readFileSync(join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  /** `pg_ctl start` (after a crash, the server recovers from its WAL first) and waits until it answers. */
  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
    this.run('pg_ctl', ['start', '-D', this.data, '-l', this.logFile, '-w', '-t', '120', '-o', options]);
    await this.answering();
  }

  /**
   * SIGKILL to the postmaster's process group: the postmaster and every backend die at once (the shared
   * buffers are lost; what was committed is in the WAL). Returns when no process of it is left.
   */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === null) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      return; // not running
    }
    // Killed processes are reaped by init (the postmaster's parent): wait until none is left.
    const end = Date.now() + 30_000;
    while (groupAlive(pid)) {
      if (Date.now() > end) throw new Error(`postgres (pid ${pid}) still has processes 30 s after SIGKILL`);
      await sleep(50);
    }
  }

  /** `pg_ctl restart -m <mode>` (fast: open sessions are terminated, a checkpoint, a start). */
  async restart(mode: 'smart' | 'fast' | 'immediate' = 'fast'): Promise<void> {
    this.run('pg_ctl', ['restart', '-D', this.data, '-m', mode, '-l', this.logFile, '-w', '-t', '120']);
    await this.answering();
  }

  private async answering(): Promise<void> {
    const end = Date.now() + 30_000;
    for (;;) {
      const c = new pg.Client({ connectionString: this.serverUrl, connectionTimeoutMillis: 2000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.query('SELECT 1');
        return;
      } catch (e) {
        if (Date.now() > end) throw new Error(`postgres on port ${this.port} does not answer: ${String(e)}`);
      } finally {
        await c.end().catch(() => undefined);
      }
      await sleep(100);
    }
  }

  /** Runs one of the cluster's programs (pg_ctl, pg_dump, pg_restore, psql...) as the cluster's user. */
  run(program: string, args: string[]): string {
    const exe = join(this.bin, program);
    const cmd = this.user
      ? ['setpriv', `--reuid=${this.user.uid}`, `--regid=${this.user.gid}`, '--clear-groups', exe, ...args]
      : [exe, ...args];
    try {
      return execFileSync(cmd[0]!, cmd.slice(1), {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: this.dir,
      });
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string };
      throw new Error(
        `${program} ${args.join(' ')} failed:\n${err.stderr ?? ''}${err.stdout ?? ''}\n${this.log.slice(-3000)}`,
      );
    }
  }

  /** Stops the server (immediate shutdown) and deletes its folder. */
  async close(): Promise<void> {
    if (this.pid !== null) {
      try {
        this.run('pg_ctl', ['stop', '-D', this.data, '-m', 'immediate', '-w']);
      } catch {
        await this.kill();
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The newest `/usr/lib/postgresql/<version>/bin` (PG_BIN overrides). */
export function postgresBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (set PG_BIN)');
  return join(root, versions[0]!, 'bin');
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, and there is no postgres user to own a test cluster');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
