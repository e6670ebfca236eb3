/**
 * The cluster status report without a server: peers folded from stream infos,
 * node rows, and how `keelson status` prints each section.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StreamInfo } from '@nats-io/jetstream';
import { natsSection, nodeStatus, type ClusterStatus, type NatsServerInfo } from '../../services/apiserver/cluster-status/index.js';
import { formatStatus, runStatus } from '../../services/cli/status.js';
import type { Election } from '../../services/lib/leader-election/index.js';

const T0 = Date.parse('2026-11-27T10:00:00.000Z');

type Peer = { name: string; current?: boolean; offline?: boolean; lag?: number; activeMs?: number };

/** A stream info as nats-server 2.9 sends it: `lag`/`offline` only when set, `active` in ns. */
function stream(name: string, replicas: number, leader?: string, followers: Peer[] = []): StreamInfo {
  const cluster = leader
    ? {
        name: 'keelson',
        leader,
        ...(followers.length
          ? {
              replicas: followers.map((f) => ({
                name: f.name,
                current: f.current ?? true,
                active: (f.activeMs ?? 5) * 1e6,
                ...(f.offline ? { offline: true } : {}),
                ...(f.lag ? { lag: f.lag } : {}),
              })),
            }
          : {}),
      }
    : undefined;
  return { config: { name, num_replicas: replicas }, state: { messages: 3 }, ...(cluster ? { cluster } : {}) } as unknown as StreamInfo;
}

const server = (name: string, cluster?: string): NatsServerInfo => ({ name, id: 'NID', version: '2.9.10', host: '127.0.0.1', port: 4222, jetstream: true, ...(cluster ? { cluster } : {}) });

function election(name: string, holder: string, term: number, agoMs: number): Election {
  return { election: name, holderIdentity: holder, instance: 'i', term, acquireTime: '', renewTime: '', leaseDurationMs: 1500, revision: term, createdMs: T0 - agoMs };
}

/** A report with everything healthy; override a section to test it. */
function report(over: Partial<ClusterStatus> = {}): ClusterStatus {
  return {
    kind: 'ClusterStatus',
    apiVersion: 'keelson.io/v1',
    time: new Date(T0).toISOString(),
    source: { via: 'apiserver', hostname: 'm1', apiserver: '10.0.0.1:6443' },
    masters: { leaseMs: 15_000, items: [{ hostname: 'm1', address: '10.0.0.1', port: 6443, renewTime: '', lastSeenAgoMs: 1_200 }] },
    nats: natsSection(server('n1', 'keelson'), [
      stream('KV_keelson', 3, 'n2', [{ name: 'n1' }, { name: 'n3', current: false, lag: 4, activeMs: 2_500 }]),
      stream('KV_keelson-elections', 3, 'n1', [{ name: 'n2' }, { name: 'n3' }]),
    ]),
    leaders: { leaseMs: 1_500, items: [election('kube-scheduler', 'm2_abc', 7, 300)] },
    nodes: { items: [{ name: 'w1', ready: 'True', reason: 'KubeletReady', unschedulable: false, lease: { renewTime: '', renewedAgoMs: 900 } }] },
    ...over,
  };
}

describe('NATS peers from the streams', () => {
  test('a 3-node cluster: the leaders and followers of every stream, folded into peers', () => {
    const n = natsSection(server('n1', 'keelson'), [
      stream('KV_b', 3, 'n2', [{ name: 'n1', lag: 2 }, { name: 'n3', current: false, offline: true, activeMs: 9_000 }]),
      stream('KV_a', 3, 'n1', [{ name: 'n2' }, { name: 'n3' }]),
      stream('KV_r1', 1, 'n3'),
    ]);
    assert.equal(n.clustered, true);
    assert.deepEqual(n.streams.map((s) => [s.name, s.leader, s.followers.map((f) => f.name)]), [
      ['KV_a', 'n1', ['n2', 'n3']],
      ['KV_b', 'n2', ['n1', 'n3']],
      ['KV_r1', 'n3', []],
    ]);
    assert.deepEqual(n.peers, [
      { name: 'n1', current: true, offline: false, lag: 2, activeMs: 5, leads: 1, streams: 2 },
      { name: 'n2', current: true, offline: false, lag: 0, activeMs: 5, leads: 1, streams: 2 },
      { name: 'n3', current: false, offline: true, lag: 0, activeMs: 9_000, leads: 1, streams: 3 },
    ]);
  });

  test('a single server: no cluster info, it alone holds and leads every stream', () => {
    const n = natsSection(server('solo'), [stream('KV_keelson', 1), stream('KV_x', 1)]);
    assert.equal(n.clustered, false);
    assert.deepEqual(n.streams.map((s) => s.leader), ['solo', 'solo']);
    assert.deepEqual(n.peers, [{ name: 'solo', current: true, offline: false, lag: 0, leads: 2, streams: 2 }]);
    assert.deepEqual(natsSection(server('solo'), []).peers.map((p) => p.name), ['solo'], 'no streams yet: still the one peer');
  });
});

describe('node rows', () => {
  const node = (conditions: unknown[], unschedulable = false) => ({ metadata: { name: 'w1' }, spec: { unschedulable }, status: { conditions } });
  test('Ready condition, cordon and the heartbeat lease age', () => {
    const lease = { metadata: { name: 'w1' }, spec: { holderIdentity: 'w1', renewTime: new Date(T0 - 2_500).toISOString().replace('Z', '000Z') } };
    assert.deepEqual(nodeStatus(node([{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'False', reason: 'KubeletNotReady' }], true), lease, T0), {
      name: 'w1',
      ready: 'False',
      reason: 'KubeletNotReady',
      unschedulable: true,
      lease: { holderIdentity: 'w1', renewTime: lease.spec.renewTime, renewedAgoMs: 2_500 },
    });
  });
  test('no Ready condition and no lease yet: Unknown, no lease', () => {
    assert.deepEqual(nodeStatus(node([]), undefined, T0), { name: 'w1', ready: 'Unknown', unschedulable: false });
  });
});

describe('keelson status output', () => {
  test('every section of a healthy HA report', () => {
    const text = formatStatus(report());
    assert.match(text, /^Cluster status at 2026-11-27T10:00:00.000Z, gathered by the API server at 10.0.0.1:6443 \(m1\)\n/);
    assert.match(text, /Masters:\n  HOSTNAME +ADDRESS +LAST SEEN\n  m1 +10\.0\.0\.1:6443 +1\.2s ago\n/);
    assert.match(text, /NATS: connected to n1 \(nats-server 2\.9\.10, cluster keelson\)\n/);
    assert.match(text, /  PEER +CURRENT +LAG +LAST HEARD +LEADS\n  n1 +yes +0 +0\.0s ago +1\/2 streams\n  n2 +yes +0 +0\.0s ago +1\/2 streams\n  n3 +no +4 +2\.5s ago +0\/2 streams\n/);
    assert.match(text, /  KV_keelson +3 +n2 +n1, n3 \(not current, behind 4\)\n/);
    assert.match(text, /  KV_keelson-elections +3 +n1 +n2, n3\n/);
    assert.match(text, /Leaders:\n  ELECTION +HOLDER +TERM +RENEWED +EXPIRES IN\n  kube-controller-manager +<none>\n  kube-scheduler +m2_abc +7 +0\.3s ago +1\.2s\n/);
    assert.match(text, /Nodes:\n  NAME +READY +REASON +LEASE RENEWED\n  w1 +True +KubeletReady +0\.9s ago\n$/);
  });

  test('a single server, an empty cluster and a failed section', () => {
    const text = formatStatus(
      report({
        source: { via: 'nats', hostname: 'laptop' },
        masters: { leaseMs: 15_000, items: [] },
        nats: natsSection(server('solo'), [stream('KV_keelson', 1)]),
        nodes: { items: [], error: 'nodes: no answer within 5000 ms' },
      }),
    );
    assert.match(text, /gathered by NATS from laptop/);
    assert.match(text, /Masters:\n  \(none: no API server has renewed its place within the lease\)\n/);
    assert.match(text, /NATS: connected to solo \(nats-server 2\.9\.10, single server, no cluster\)\n  PEER.*\n  solo +yes +0 +- +1\/1 streams\n/);
    assert.match(text, /Nodes:\n  error: nodes: no answer within 5000 ms\n$/);
  });

  test('a report that cannot be fetched exits 1 and says why', async () => {
    let err = '';
    const code = await runStatus(['--server', 'http://127.0.0.1:1'], () => assert.fail('nothing on stdout'), (s) => (err += s));
    assert.equal(code, 1);
    assert.match(err, /^error: could not reach the API server at http:\/\/127\.0\.0\.1:1\/keelson\/v1\/status: /);
    assert.equal(await runStatus(['-o', 'yaml'], () => undefined, () => undefined), 1);
  });
});
