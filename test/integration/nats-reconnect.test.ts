/**
 * lib/nats's forced reconnect against a real 3-server cluster: nats.js alone
 * dials the server it just left first (its pool hands out the current server
 * without rotating it), so `reconnectElsewhere` steers the first dial away.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectNats, reconnectElsewhere, type NatsConnection } from '../../services/lib/nats/index.js';
import { startTestNats } from '../harness/nats.js';
import { until } from '../harness/wait.js';

async function reconnected(nc: NatsConnection, run: () => Promise<void>): Promise<void> {
  let seen = false;
  const watching = (async () => {
    for await (const s of nc.status()) if (s.type === 'reconnect') return void (seen = true);
  })();
  await run();
  await until('the reconnect', async () => seen, 10_000);
  void watching;
}

test('reconnectElsewhere moves a connection to another server of its list, every time', { timeout: 60_000 }, async (t) => {
  const nats = await startTestNats(t, 'cluster');
  const nc = await connectNats(nats.urls, 'reconnect-test');
  t.after(() => nc.close());
  // Up for a while, as a kubelet's connection is (a server dialled in the last 250 ms is skipped anyway).
  await new Promise((r) => setTimeout(r, 600));
  const path = [nc.getServer()];
  for (let i = 0; i < 3; i++) {
    await reconnected(nc, () => reconnectElsewhere(nc));
    path.push(nc.getServer());
    await new Promise((r) => setTimeout(r, 600));
  }
  for (let i = 1; i < path.length; i++) assert.notEqual(path[i], path[i - 1], `moved each time: ${path.join(' → ')}`);
  // The connection works where it went.
  const sub = nc.subscribe('reconnect.test', { max: 1 });
  nc.publish('reconnect.test', 'x');
  for await (const m of sub) assert.equal(m.string(), 'x');
});
