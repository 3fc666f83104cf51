/// <reference types="node" />
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventStreamParser, openEventStream, type StreamEvent } from './sse.js';

// The page keeps its key in sessionStorage; Node has none, so a plain one stands in for the browser's.
beforeAll(() => {
  const items = new Map<string, string>();
  Object.assign(globalThis, {
    sessionStorage: {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: (k: string, v: string) => void items.set(k, v),
      removeItem: (k: string) => void items.delete(k),
    },
  });
  sessionStorage.setItem('ip2.apiKey', 'ip2_test');
});

describe('EventStreamParser', () => {
  it('dispatches events split anywhere across chunks, with ids, multi-line data, comments and CRLF', () => {
    const got: StreamEvent[] = [];
    const p = new EventStreamParser((e) => got.push(e));
    const text =
      'retry: 250\r\n\r\n: keep-alive\n\nid: 7\nevent: task\ndata: {"a":\ndata: 1}\n\nevent: end\ndata: {}\n\n';
    for (let i = 0; i < text.length; i += 3) p.push(text.slice(i, i + 3));
    expect(got).toEqual([
      { event: 'task', data: '{"a":\n1}', id: '7' },
      { event: 'end', data: '{}', id: '7' },
    ]);
    expect(p.retryMs).toBe(250);
    expect(p.lastId).toBe('7');
  });
});

describe('openEventStream', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  const listen = (handler: (req: IncomingMessage, res: import('node:http').ServerResponse) => void) =>
    new Promise<string>((r) => {
      server = createServer(handler);
      server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server!.address() as { port: number }).port}/events`));
    });

  it('sends the key, resumes a dropped stream with Last-Event-ID and stops at the end event', async () => {
    const requests: { auth?: string; last?: string }[] = [];
    const url = await listen((req, res) => {
      requests.push({ auth: req.headers.authorization, last: req.headers['last-event-id'] as string | undefined });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (requests.length === 1) {
        res.write('retry: 20\n\nid: 1\nevent: task\ndata: 1\n\nid: 2\nevent: task\ndata: 2\n\n');
        setTimeout(() => res.socket?.destroy(), 50);
      } else {
        res.end('id: 3\nevent: task\ndata: 3\n\nevent: end\ndata: {}\n\n');
      }
    });
    const events: string[] = [];
    const statuses: string[] = [];
    await new Promise<void>((done) => {
      openEventStream(url, {
        onEvent: (e) => events.push(`${e.event}:${e.data}`),
        onStatus: (s) => {
          statuses.push(s);
          if (s === 'closed') done();
        },
      });
    });
    expect(events).toEqual(['task:1', 'task:2', 'task:3', 'end:{}']);
    expect(requests).toEqual([
      { auth: 'Bearer ip2_test', last: undefined },
      { auth: 'Bearer ip2_test', last: '2' },
    ]);
    expect(statuses).toEqual(['open', 'reconnecting', 'open', 'closed']);
  });

  it('a connection cut in the middle of an event: the event is dropped, not counted, and comes again', async () => {
    const requests: (string | undefined)[] = [];
    const url = await listen((req, res) => {
      requests.push(req.headers['last-event-id'] as string | undefined);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (requests.length === 1) {
        res.write('retry: 20\n\nid: 1\nevent: task\ndata: 1\n\nid: 2\nevent: task\ndata: {"par');
        setTimeout(() => res.socket?.destroy(), 50);
      } else {
        res.end('id: 2\nevent: task\ndata: 2\n\nid: 3\nevent: task\ndata: 3\n\nevent: end\ndata: {}\n\n');
      }
    });
    const events: string[] = [];
    await new Promise<void>((done) => {
      openEventStream(url, {
        onEvent: (e) => events.push(`${e.id}:${e.event}:${e.data}`),
        onStatus: (s) => s === 'closed' && done(),
      });
    });
    expect(requests).toEqual([undefined, '1']);
    expect(events).toEqual(['1:task:1', '2:task:2', '3:task:3', '3:end:{}']);
  });

  it('gives up on a 4xx answer with its problem detail, without reconnecting', async () => {
    let calls = 0;
    const url = await listen((_req, res) => {
      calls += 1;
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'x', title: 'Not Found', status: 404, detail: 'no search 42' }));
    });
    const status = await new Promise<string>((done) => openEventStream(url, { onEvent: () => {}, onStatus: done }));
    expect(status).toBe('no search 42');
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(1);
  });
});
