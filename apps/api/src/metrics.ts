import { SEARCH_STATES, type MonitorRepository } from '@ip2/db';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventHubStats } from './event-hub.js';

/**
 * Prometheus metrics of one app: requests by route and status, their durations, searches by state,
 * and the progress streams (open streams, searches polled, unread bytes held, streams dropped).
 */
export function createMetrics(monitor: MonitorRepository, events: () => EventHubStats): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ip2_api_' });
  new Counter({
    name: 'ip2_api_http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  new Histogram({
    name: 'ip2_api_http_request_duration_seconds',
    help: 'HTTP request durations by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'ip2_searches',
    help: 'Searches by state (all owners)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      try {
        const counts = await monitor.searchesByState();
        for (const s of SEARCH_STATES) this.set({ state: s }, counts.get(s) ?? 0);
      } catch {
        // The database is down: /readyz says so; the scrape still returns the other metrics.
        this.reset();
      }
    },
  });
  const streamGauge = (name: string, help: string, read: (s: EventHubStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(events()));
      },
    });
  streamGauge('ip2_api_event_streams', 'Open progress streams (GET /v1/searches/{id}/events)', (s) => s.streams);
  streamGauge('ip2_api_event_feeds', 'Searches whose progress is being polled (one poll per search)', (s) => s.feeds);
  streamGauge(
    'ip2_api_event_buffered_bytes',
    'Progress-stream output written and not yet read by the clients, plus events held during replays',
    (s) => s.bufferedBytes,
  );
  new Counter({
    name: 'ip2_api_event_streams_dropped_total',
    help: 'Progress streams closed because their client did not keep up (it resumes with Last-Event-ID)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(events().dropped);
    },
  });
  return registry;
}

export function recordRequests(app: FastifyInstance, registry: Registry): void {
  const requests = registry.getSingleMetric('ip2_api_http_requests_total') as Counter<'method' | 'route' | 'status'>;
  const durations = registry.getSingleMetric('ip2_api_http_request_duration_seconds') as Histogram<'method' | 'route'>;
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    durations.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
}
