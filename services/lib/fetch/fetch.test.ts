import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { fetchText, FetchTimeoutError } from './index.js';

test('an answer whose body stalls after the headers is given up at the deadline, not left pending', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('the beginning, and then nothing'); // never ended
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())).then(() => undefined));
  t.after(() => server.closeAllConnections());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const t0 = Date.now();
  await assert.rejects(fetchText(url, {}, 300), FetchTimeoutError);
  assert.ok(Date.now() - t0 < 2_000, `gave up after ${Date.now() - t0} ms`);
});

test('a whole answer comes back with its status and text', async (t) => {
  const server = createServer((req, res) => res.writeHead(201).end(`${req.method} ${req.url}`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const got = await fetchText(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, { method: 'POST' }, 2_000);
  assert.equal(got.status, 201);
  assert.equal(got.text, 'POST /x');
});
