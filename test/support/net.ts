import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, sleep } from './stack.js';

/**
 * A TCP forwarder (node:net) between the service's processes and a server: `cut()` drops every
 * connection and refuses new ones (the server looks unreachable), `restore()` listens again.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** Connections accepted, and connections dropped by cut(). */
  accepted = 0;
  dropped = 0;

  private constructor(
    readonly host: string,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(host: string, target: { host: string; port: number }, port?: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(host, port ?? (await freePort(host)), target);
    await proxy.restore();
    return proxy;
  }

  /** host:port of the proxy in place of the target's in a URL. */
  url(url: string): string {
    const u = new URL(url);
    u.hostname = this.host;
    u.port = String(this.port);
    return u.toString();
  }

  async restore(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      this.accepted++;
      const upstream = createConnection(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(this.port, this.host, () => ok());
    });
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    for (const s of this.sockets) {
      if (s.remoteAddress !== undefined) this.dropped++;
      s.destroy();
    }
    this.sockets.clear();
    await closed;
  }

  async close(): Promise<void> {
    await this.cut();
  }
}

/**
 * A load balancer in miniature (node:net, loopback): each new connection goes to the next of `targets`
 * in turn; a target that refuses the connection is skipped for the next one, as a balancer's health
 * check would (the client sees a refusal only when every target refuses). A connection stays with its
 * target until either side closes it. `accepted[i]` counts the connections handed to target i.
 */
export class RoundRobinProxy {
  private readonly sockets = new Set<Socket>();
  private next = 0;
  private pinned: number | null = null;
  readonly accepted: number[];

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly targets: readonly { host: string; port: number }[],
  ) {
    this.accepted = targets.map(() => 0);
  }

  static async start(targets: readonly { host: string; port: number }[]): Promise<RoundRobinProxy> {
    const server = createServer();
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => ok());
    });
    const proxy = new RoundRobinProxy(server, (server.address() as { port: number }).port, targets);
    server.on('connection', (client) => proxy.forward(client));
    return proxy;
  }

  /**
   * Sends new connections to target i only (as a balancer does while the others are drained), or
   * round-robin again with null. Open connections stay where they are.
   */
  pin(i: number | null): void {
    this.pinned = i;
  }

  /** The proxy's base URL (http://127.0.0.1:port). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private forward(client: Socket): void {
    client.pause();
    client.on('error', () => undefined);
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    const first = this.pinned ?? this.next;
    const tries = this.pinned === null ? this.targets.length : 1;
    this.next = (this.next + 1) % this.targets.length;
    const attempt = (k: number) => {
      if (k === tries || client.destroyed) {
        client.destroy();
        return;
      }
      const i = (first + k) % this.targets.length;
      const upstream = createConnection(this.targets[i]!);
      upstream.once('error', () => attempt(k + 1));
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        upstream.on('error', () => undefined);
        this.accepted[i]!++;
        this.sockets.add(upstream);
        upstream.on('close', () => {
          this.sockets.delete(upstream);
          client.destroy();
        });
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
      });
    };
    attempt(0);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }
}

/**
 * A redis-server of the test's own, on a free port, with append-only persistence (fsync at every
 * write) in a temporary folder: it can be killed and started again with the same data.
 */
export class OwnRedis {
  private proc: ChildProcess | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'ip2-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort());
    await r.restart();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again, from its append-only file) and waits until it answers. */
  async restart(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: 'ignore' },
    );
    const end = Date.now() + 15_000;
    for (;;) {
      const c = new Redis(this.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      c.on('error', () => undefined);
      try {
        await c.connect();
        if ((await c.ping()) === 'PONG') return;
      } catch {
        // not up yet
      } finally {
        c.disconnect();
      }
      if (Date.now() > end) throw new Error(`redis-server on port ${this.port} did not start`);
      await sleep(50);
    }
  }

  /** Kills the server (SIGKILL: no shutdown save; the append-only file has every acknowledged write). */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGKILL');
    });
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** Why network namespaces cannot be used here (not root, no `ip netns`), or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not running as root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return null;
  } catch {
    return '`ip netns` is unavailable';
  }
}

/**
 * Hosts of their own on one machine: a bridge with the address `${subnet}.1` in the root namespace (where
 * servers can be exposed through a TcpProxy), and per host a network namespace joined to the bridge by a
 * veth pair, with the address `${subnet}.${10 + i}`. Every name carries a random tag, so that parallel
 * runs do not collide; `remove()` deletes everything.
 */
export class VirtualHosts {
  readonly bridge: string;
  readonly gateway: string;
  readonly hosts: { ns: string; link: string; address: string }[] = [];

  constructor(count: number) {
    const tag = randomBytes(3).toString('hex');
    const subnet = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}`;
    this.bridge = `ip2b${tag}`;
    this.gateway = `${subnet}.1`;
    try {
      ip('link', 'add', this.bridge, 'type', 'bridge');
      ip('addr', 'add', `${this.gateway}/24`, 'dev', this.bridge);
      ip('link', 'set', this.bridge, 'up');
      for (let i = 1; i <= count; i++) {
        const host = { ns: `ip2h${tag}${i}`, link: `ip2v${tag}${i}`, address: `${subnet}.${10 + i}` };
        this.hosts.push(host);
        ip('netns', 'add', host.ns);
        ip('link', 'add', host.link, 'type', 'veth', 'peer', 'name', `${host.link}p`);
        ip('link', 'set', host.link, 'master', this.bridge, 'up');
        ip('link', 'set', `${host.link}p`, 'netns', host.ns);
        ip('-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', `${host.link}p`);
        ip('-n', host.ns, 'link', 'set', `${host.link}p`, 'up');
        ip('-n', host.ns, 'link', 'set', 'lo', 'up');
      }
    } catch (e) {
      this.remove();
      throw e;
    }
  }

  /** Takes host i's link down (the host is cut off the network) or up again. */
  link(i: number, state: 'up' | 'down'): void {
    ip('link', 'set', this.hosts[i]!.link, state);
  }

  remove(): void {
    for (const h of this.hosts) {
      try {
        ip('netns', 'del', h.ns);
      } catch {
        // already gone
      }
    }
    try {
      ip('link', 'del', this.bridge);
    } catch {
      // already gone
    }
  }
}
