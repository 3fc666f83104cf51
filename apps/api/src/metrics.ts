import { SEARCH_STATES, type MonitorRepository } from '@ip2/db';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one app: requests by route and status, their durations, searches by state. */
export function createMetrics(monitor: MonitorRepository): Registry {
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
