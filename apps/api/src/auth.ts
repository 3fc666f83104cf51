import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiContext } from './context.js';
import { HttpProblem } from './problem.js';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="ip2"' };

/** The bearer token of the request, or undefined. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

/** Rate-limit bucket: the key's hash (a valid key's requests share one bucket), else the address. */
export function rateLimitKey(request: FastifyRequest): string {
  const token = bearerToken(request);
  return token === undefined ? `ip:${request.ip}` : `key:${createHash('sha256').update(token).digest('hex')}`;
}

/** Adds `Authorization: Bearer <key>` checking to every route of the scope. */
export function requireApiKey(scope: FastifyInstance, ctx: ApiContext): void {
  scope.addHook('onRequest', authenticate(ctx));
}

/**
 * An onRequest hook that sets request.apiKey or refuses the request (401). The key is never compared
 * as a string: the store hashes it (SHA-256), looks the hash up and compares the stored hash with
 * timingSafeEqual (see ApiKeyRepository.authenticate in @ip2/db).
 */
export function authenticate(ctx: ApiContext): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const h = request.headers.authorization;
    if (h === undefined) {
      throw new HttpProblem(
        401,
        'missing Authorization header: send "Authorization: Bearer <key>"',
        [{ path: 'headers.authorization', message: 'required' }],
        CHALLENGE,
      );
    }
    const token = bearerToken(request);
    if (token === undefined) {
      throw new HttpProblem(
        401,
        'malformed Authorization header: expected "Bearer <key>"',
        [{ path: 'headers.authorization', message: 'expected "Bearer <key>"' }],
        CHALLENGE,
      );
    }
    const key = await ctx.store.apiKeys.authenticate(token);
    if (key === null) {
      throw new HttpProblem(
        401,
        'unknown or revoked API key',
        [{ path: 'headers.authorization', message: 'unknown or revoked API key' }],
        CHALLENGE,
      );
    }
    request.apiKey = key;
  };
}
