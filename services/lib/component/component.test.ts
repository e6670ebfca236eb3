import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metric, renderMetrics } from './metrics.js';
import { serveComponent } from './server.js';

test('metrics render in the Prometheus text format, labels escaped', () => {
  const text = renderMetrics([
    metric('keelson_leader', 'gauge', 'Whether this instance leads.', 1, { election: 'kube-scheduler' }),
    { name: 'keelson_syncs_total', help: 'Syncs.', type: 'counter', samples: [{ labels: { controller: 'a"b' }, value: 3 }, { value: Infinity }] },
  ]);
  assert.equal(
    text,
    [
      '# HELP keelson_leader Whether this instance leads.',
      '# TYPE keelson_leader gauge',
      'keelson_leader{election="kube-scheduler"} 1',
      '# HELP keelson_syncs_total Syncs.',
      '# TYPE keelson_syncs_total counter',
      'keelson_syncs_total{controller="a\\"b"} 3',
      'keelson_syncs_total +Inf',
      '',
    ].join('\n'),
  );
});

test('the component server answers /healthz, /readyz and /metrics, and 503 when a check fails', async (t) => {
  let ready = false;
  const srv = await serveComponent({
    name: 'test-component',
    host: '127.0.0.1',
    port: 0,
    healthz: () => ({ ok: true, message: '' }),
    readyz: () => ({ ok: ready, message: 'not leading and not synced' }),
    metrics: () => [metric('up', 'gauge', 'Up.', 1)],
  });
  t.after(() => srv.close());
  const get = async (path: string) => {
    const res = await fetch(srv.url + path);
    return [res.status, await res.text()] as const;
  };
  assert.deepEqual(await get('/healthz'), [200, 'ok\n']);
  assert.deepEqual(await get('/readyz'), [503, 'not leading and not synced\n']);
  ready = true;
  assert.deepEqual(await get('/readyz'), [200, 'ok\n']);
  const [code, body] = await get('/metrics');
  assert.equal(code, 200);
  assert.match(body, /^up 1$/m);
  assert.equal((await get('/nope'))[0], 404);
  assert.equal((await fetch(srv.url + '/healthz', { method: 'POST' })).status, 405);

  await assert.rejects(
    serveComponent({ name: 'second', host: '127.0.0.1', port: srv.port, healthz: () => ({ ok: true, message: '' }), readyz: () => ({ ok: true, message: '' }), metrics: () => [] }),
    /cannot serve health and metrics on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/,
  );
});
