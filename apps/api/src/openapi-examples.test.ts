import { MODEL_VERSIONS, STRATEGY_KINDS } from '@ip2/search';
import { FAMILY_IDS } from '@ip2/tasks';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, createHarness, type Harness } from './test-harness.js';

/*
 * Swagger UI's "Try it out" sends the examples of the OpenAPI document as they are: each must be a request
 * this server, with its default limits, carries out. The document is read as a client reads it (/docs/json),
 * and every example in it is sent to the API over a real database.
 */

interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly required?: boolean;
  readonly example?: unknown;
  readonly examples?: Record<string, { readonly value: unknown }>;
  readonly schema?: { readonly example?: unknown; readonly examples?: readonly unknown[] };
}

interface Media {
  readonly schema?: unknown;
  readonly example?: unknown;
  readonly examples?: Record<string, { readonly value: unknown }>;
}

/** The parts of the POST /v1/searches body schema whose values are listed. */
interface BodySchema {
  readonly properties: {
    readonly family: { readonly enum?: unknown };
    readonly space: { readonly items: { readonly enum?: unknown } };
    readonly protocol: {
      readonly properties: { readonly network: { readonly properties: Record<string, { readonly enum?: unknown }> } };
    };
    readonly strategy: {
      readonly oneOf: readonly { readonly properties: { readonly kind: { readonly enum: readonly string[] } } }[];
    };
  };
}

interface Operation {
  readonly parameters?: readonly Parameter[];
  readonly requestBody?: { readonly content: Record<string, Media> };
  readonly security?: readonly Record<string, unknown>[];
}

interface Document {
  readonly paths: Record<string, Record<string, Operation>>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** The values an OpenAPI media type or parameter gives as examples (its `example`, or each of its `examples`). */
function examplesOf(x: {
  readonly example?: unknown;
  readonly examples?: Record<string, { readonly value: unknown }>;
}): unknown[] {
  if (x.example !== undefined) return [x.example];
  return Object.values(x.examples ?? {}).map((e) => e.value);
}

function parameterExample(p: Parameter): unknown {
  return examplesOf(p)[0] ?? p.schema?.example ?? p.schema?.examples?.[0];
}

/** One request per example of an operation: its body examples, its parameters' examples filled in. */
interface ExampleRequest {
  readonly name: string;
  readonly request: InjectOptions;
}

function exampleRequests(doc: Document, key: string): ExampleRequest[] {
  const out: ExampleRequest[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (op === undefined) continue;
      const params = op.parameters ?? [];
      const given = params.filter((p) => parameterExample(p) !== undefined);
      const bodies = Object.entries(op.requestBody?.content ?? {}).flatMap(([type, media]) =>
        examplesOf(media).map((value) => ({ type, value })),
      );
      if (bodies.length === 0 && given.length === 0) continue;
      const name = `${method.toUpperCase()} ${path}`;
      let url = path;
      const query = new URLSearchParams();
      const headers: Record<string, string> = op.security?.some((s) => 'bearer' in s) ? auth(key) : {};
      for (const p of params) {
        const value = parameterExample(p);
        if (value === undefined) {
          if (p.in === 'path') throw new Error(`${name}: path parameter ${p.name} has no example`);
          continue;
        }
        if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(String(value)));
        else if (p.in === 'query') query.set(p.name, String(value));
        else if (p.in === 'header') headers[p.name] = String(value);
      }
      const target = query.size > 0 ? `${url}?${query.toString()}` : url;
      const base = { method: method.toUpperCase() as InjectOptions['method'], url: target };
      if (bodies.length === 0) out.push({ name, request: { ...base, headers } });
      for (const [i, b] of bodies.entries()) {
        out.push({
          name: `${name} (${b.type} example ${i + 1})`,
          request: { ...base, headers: { ...headers, 'content-type': b.type }, payload: JSON.stringify(b.value) },
        });
      }
    }
  }
  return out;
}

let h: Harness;
let doc: Document;
beforeAll(async () => {
  // The default limits: the examples must run on a server as it is configured out of the box.
  h = await createHarness();
  const r = await h.app.inject('/docs/json');
  expect(r.statusCode).toBe(200);
  doc = r.json();
});
afterAll(async () => {
  await h?.close();
});

describe('the examples of the OpenAPI document', () => {
  it('give every request body an example', () => {
    const missing: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of METHODS) {
        const content = item[method]?.requestBody?.content ?? {};
        for (const [type, media] of Object.entries(content)) {
          if (examplesOf(media).length === 0) missing.push(`${method.toUpperCase()} ${path} (${type})`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('are each carried out by the API (2xx) as Swagger UI sends them', async () => {
    const requests = exampleRequests(doc, h.alice);
    expect(requests.map((r) => r.name)).toContain('POST /v1/searches (application/json example 1)');
    for (const { name, request } of requests) {
      const r = await h.app.inject(request);
      expect(r.statusCode, `${name}: ${r.body}`).toBeGreaterThanOrEqual(200);
      expect(r.statusCode, `${name}: ${r.body}`).toBeLessThan(300);
    }
  });

  it('submit the quick preset on sma, with its validation, as POST /v1/searches example', async () => {
    const post = doc.paths['/v1/searches']!.post!;
    const [example] = examplesOf(post.requestBody!.content['application/json']!);
    const r = await h.app.inject({
      method: 'POST',
      url: '/v1/searches',
      headers: auth(h.bob),
      payload: example as object,
    });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({
      family: 'sma',
      space: ['tauD', 'tauS', 'theta'],
      strategy: { kind: 'successive-halving' },
      protocol: { tasks: 12, seeds: 3, network: { hidden: 40 } },
      definition: { validation: { seeds: 3 } },
    });
  });

  it('list the task families, model versions, property keys and strategies as enums', () => {
    const post = doc.paths['/v1/searches']!.post!;
    const schema = post.requestBody!.content['application/json']!.schema as BodySchema;
    expect(schema.properties.family.enum).toEqual(FAMILY_IDS);
    expect(schema.properties.space.items.enum).toEqual(['tauD', 'tauS', 'theta', 'beta', 'tauA']);
    expect(schema.properties.protocol.properties.network.properties.modelVersion!.enum).toEqual(MODEL_VERSIONS);
    const kinds = schema.properties.strategy.oneOf.flatMap((b) => b.properties.kind.enum);
    expect(kinds).toEqual(STRATEGY_KINDS);
    const param = (path: string, name: string) =>
      doc.paths[path]!.get!.parameters!.find((p) => p.name === name)!.schema as { enum?: unknown[] };
    expect(param('/v1/searches', 'family').enum).toEqual(FAMILY_IDS);
    expect(param('/v1/configs', 'family').enum).toEqual(FAMILY_IDS);
    expect(param('/v1/configs', 'modelVersion').enum).toEqual(MODEL_VERSIONS);
  });
});
