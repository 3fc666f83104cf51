import { Redis } from 'ioredis';

/**
 * A Redis connection. Workers retry forever (maxRetriesPerRequest null, as BullMQ requires for
 * blocking commands); producers fail fast when Redis is down.
 */
export function redisConnection(url: string, role: 'worker' | 'producer'): Redis {
  return new Redis(url, role === 'worker' ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 1 });
}
