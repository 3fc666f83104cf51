import { UsageError } from '../errors.js';

/*
 * The CLI's side of the REST API. Exit codes: a request the server refuses (4xx: bad flags, an unknown
 * or revoked key, an unknown search) is a UsageError (exit 2, one line naming the flag or quoting the
 * server); a server that cannot be reached, answers 5xx or 429, or answers something that is not the
 * API is a ServerError (exit 1).
 */

export const DEFAULT_SERVER = 'http://127.0.0.1:3000';

/** The server failed or could not be reached: exit 1. */
export class ServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerError';
  }
}

export interface ConnectionFlags {
  server?: string;
  key?: string;
}

/** application/problem+json as the API sends it. */
interface Problem {
  readonly status?: number;
  readonly detail?: string;
  readonly errors?: readonly { readonly path: string; readonly message: string }[];
}

/** Which flag of `ip2 submit` sets a field of the search definition (for the server's 4xx messages). */
const FLAG_OF: readonly [RegExp, string][] = [
  [/^family/, '--family'],
  [/^space/, '--space'],
  [/^strategy\.eta/, '--eta'],
  [/^strategy\.minTasks/, '--min-tasks'],
  [/^strategy\.n\b/, '--masks'],
  [/^strategy/, '--strategy'],
  [/^protocol\.network\.hidden/, '--hidden'],
  [/^protocol\.network\.lr/, '--lr'],
  [/^protocol\.network\.loss/, '--loss'],
  [/^protocol\.tasks/, '--tasks'],
  [/^protocol\.seeds/, '--seeds'],
  [/^protocol\.baseSeed/, '--seed'],
  [/^protocol\.criterion\.window/, '--window'],
  [/^protocol\.criterion\.epsilon/, '--epsilon'],
  [/^protocol\.iterationCap/, '--cap'],
  [/^protocol$/, '--tasks/--seeds'],
  [/^score/, '--score'],
  [/^headers\.authorization/, '--key'],
  [/^headers\.idempotency-key/, '--idempotency-key'],
];

export function flagOf(path: string): string | undefined {
  return FLAG_OF.find(([re]) => re.test(path))?.[1];
}

/** The server's URL and key from the flags or the environment; a UsageError naming the flag otherwise. */
export function connect(f: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ApiClient {
  const server = f.server ?? (env.IP2_SERVER || undefined) ?? DEFAULT_SERVER;
  let base: URL;
  try {
    base = new URL(server);
  } catch {
    throw new UsageError(`--server: '${server}' is not a URL (e.g. http://127.0.0.1:3000)`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new UsageError(`--server: '${server}' must be an http:// or https:// URL`);
  }
  const key = f.key ?? (env.IP2_API_KEY || undefined);
  if (key === undefined || key.trim() === '') {
    throw new UsageError('--key: no API key; give --key <key> or set IP2_API_KEY');
  }
  return new ApiClient(base, key.trim());
}

export class ApiClient {
  constructor(
    readonly base: URL,
    private readonly key: string,
  ) {}

  /** The absolute URL of an API path. */
  url(path: string): string {
    return new URL(path, this.base).href;
  }

  /**
   * Sends a request; a 2xx response is returned, anything else becomes the UsageError or ServerError
   * described above. `what` names the subject in messages (e.g. 'search 1234…').
   */
  async request(
    path: string,
    init: { method?: string; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
    what = 'request',
  ): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}`, ...init.headers };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.url(path), {
        method: init.method ?? 'GET',
        headers,
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        ...(init.signal ? { signal: init.signal } : {}),
      });
    } catch (e) {
      if (init.signal?.aborted) throw e;
      throw new ServerError(
        `cannot reach the server at ${this.base.origin} (${networkReason(e)}); check --server or IP2_SERVER`,
      );
    }
    if (res.ok) return res;
    throw await this.failure(res, what);
  }

  /** As text(), but null where the server answers 404 (a resource that need not exist). */
  async optionalText(path: string, what?: string): Promise<string | null> {
    try {
      return await this.text(path, what);
    } catch (e) {
      if (e instanceof NotFound) return null;
      throw e;
    }
  }

  async json<T>(path: string, init: Parameters<ApiClient['request']>[1] = {}, what?: string): Promise<T> {
    const res = await this.request(path, init, what);
    try {
      return (await res.json()) as T;
    } catch {
      throw new ServerError(`the server at ${this.base.origin} sent a response to ${path} that is not JSON`);
    }
  }

  async text(path: string, what?: string): Promise<string> {
    return (await this.request(path, {}, what)).text();
  }

  private async failure(res: Response, what: string): Promise<Error> {
    const type = res.headers.get('content-type') ?? '';
    let p: Problem | null = null;
    if (type.includes('json')) {
      try {
        p = (await res.json()) as Problem;
      } catch {
        p = null;
      }
    }
    const detail = p?.detail ?? `HTTP ${res.status} ${res.statusText}`;
    if (p === null && res.status !== 401) {
      return new ServerError(
        `the server at ${this.base.origin} answered ${res.status} ${res.statusText} without problem details: is --server the ip2 API?`,
      );
    }
    if (res.status === 401)
      return new UsageError(`--key: the server at ${this.base.origin} refused the key (${detail})`);
    if (res.status === 429 || res.status >= 500)
      return new ServerError(`${what}: the server answered ${res.status}: ${detail}`);
    if (res.status === 404) return new NotFound(`${detail} on ${this.base.origin}`);
    const first = p?.errors?.find((e) => flagOf(e.path) !== undefined);
    const flag = first ? flagOf(first.path) : undefined;
    return new UsageError(flag ? `${flag}: ${detail}` : `${what}: ${detail}`);
  }
}

function networkReason(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
}

/** A 404: a UsageError (the id or name given does not exist there) that optionalText() can tell apart. */
class NotFound extends UsageError {}
