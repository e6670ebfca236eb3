/**
 * The event recorder against a real API server: Events land in the object's
 * namespace (nodes' in default), and repeats are aggregated into one counted Event.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import type { KObject } from '../../services/lib/api/resources.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { EventRecorder } from '../../services/lib/events/index.js';
import { startTestNats, type TestNats } from '../harness/nats.js';

type EventView = KObject & { reason: string; message: string; count: number; type: string; involvedObject: { kind: string; name: string; uid?: string }; source: { component: string } };

describe('event recorder', () => {
  let nats: TestNats;
  let api: ApiServer;
  let client: KeelsonClient;
  before(async () => {
    nats = await startTestNats({ after: () => undefined }, 'single');
    api = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0 });
    client = await KeelsonClient.connect(nats.urls, 'events-test');
  });
  after(async () => {
    await client?.close();
    await api?.stop();
    await nats?.stop();
  });

  const events = async (ns: string) => ((await client.list('events', ns)).items as EventView[]).sort((a, b) => a.reason.localeCompare(b.reason));

  test('repeats of one reason and message are one Event with a count; others are new Events', async () => {
    const pod = await client.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    const rec = new EventRecorder({ client, component: 'test-controller', host: 'h1' });
    for (let i = 0; i < 3; i++) {
      rec.event(pod, 'Warning', 'FailedScheduling', '0/1 nodes are available: 1 Insufficient cpu.');
      await rec.flush();
    }
    rec.event(pod, 'Normal', 'Scheduled', 'Successfully assigned default/p to n1');
    rec.event({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'u-n1' } }, 'Normal', 'NodeNotReady', 'Node n1 status is now: NodeNotReady');
    await rec.flush();

    const got = await events('default');
    assert.deepEqual(
      got.map((e) => [e.reason, e.count, e.type, e.involvedObject.kind, e.involvedObject.name]),
      [
        ['FailedScheduling', 3, 'Warning', 'Pod', 'p'],
        ['NodeNotReady', 1, 'Normal', 'Node', 'n1'],
        ['Scheduled', 1, 'Normal', 'Pod', 'p'],
      ],
    );
    assert.equal(got[0]!.involvedObject.uid, pod.metadata!.uid);
    assert.equal(got[0]!.source.component, 'test-controller');
  });
});
