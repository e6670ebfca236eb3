/**
 * The scheduler cache: bound pods counted on their nodes, assumptions counted
 * until confirmed by the watch or forgotten, finished pods releasing their room.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeNode, makePod } from '../testing/builders.js';
import { normalizeImageName } from './pod-info.js';
import { SchedulerCache } from './scheduler.cache.js';

const cpuOn = (c: SchedulerCache, node: string) => c.node(node)?.requestedMilliCpu;

describe('SchedulerCache', () => {
  test('bound pods count on their node; a finished or deleted pod gives its room back', () => {
    const c = new SchedulerCache();
    c.upsertNode(makeNode('a').obj());
    c.upsertPod(makePod('p').req({ cpu: '1' }).node('a').obj());
    c.upsertPod(makePod('q').req({ cpu: '500m' }).node('a').hostPort(80).owner('rs').obj());
    assert.equal(cpuOn(c, 'a'), 1500);
    assert.equal(c.node('a')!.pods.size, 2);
    assert.ok(c.node('a')!.usedPorts.has('TCP/80'));
    assert.equal(c.podsOfOwner('rs')?.[c.node('a')!.slot], 1);
    const { removed } = c.upsertPod(makePod('q').req({ cpu: '500m' }).node('a').hostPort(80).owner('rs').phase('Succeeded').obj());
    assert.equal(removed?.name, 'q');
    assert.equal(cpuOn(c, 'a'), 1000);
    assert.equal(c.node('a')!.usedPorts.size, 0);
    assert.equal(c.podsOfOwner('rs'), undefined);
    assert.ok(c.removePod('default/p'));
    assert.equal(cpuOn(c, 'a'), 0);
  });

  test('an assumed pod counts at once, until the watch confirms it', () => {
    const c = new SchedulerCache();
    c.upsertNode(makeNode('a').obj());
    const pod = makePod('p').req({ cpu: '1' });
    c.assume(pod.info(), 'a');
    assert.equal(cpuOn(c, 'a'), 1000);
    assert.deepEqual(c.counts(), { nodes: 1, pods: 1, assumed: 1 });
    // The watch still shows it pending (our bind is on its way): it stays assumed.
    c.upsertPod(pod.obj());
    assert.equal(c.isAssumed('default/p'), true);
    // Seen bound: confirmed, counted once.
    c.upsertPod(pod.node('a').obj());
    assert.equal(c.isAssumed('default/p'), false);
    assert.equal(cpuOn(c, 'a'), 1000);
    assert.deepEqual(c.counts(), { nodes: 1, pods: 1, assumed: 0 });
    c.forget('default/p'); // too late: confirmed pods are not forgotten
    assert.equal(cpuOn(c, 'a'), 1000);
  });

  test('a failed binding forgets the assumption', () => {
    const c = new SchedulerCache();
    c.upsertNode(makeNode('a').obj());
    c.assume(makePod('p').req({ cpu: '1' }).info(), 'a');
    c.forget('default/p');
    assert.equal(cpuOn(c, 'a'), 0);
    assert.deepEqual(c.counts(), { nodes: 1, pods: 0, assumed: 0 });
  });

  test('bound elsewhere than assumed: counted where it really is', () => {
    const c = new SchedulerCache();
    c.upsertNode(makeNode('a').obj());
    c.upsertNode(makeNode('b').obj());
    c.assume(makePod('p').req({ cpu: '1' }).info(), 'a');
    c.upsertPod(makePod('p').req({ cpu: '1' }).node('b').obj());
    assert.deepEqual([cpuOn(c, 'a'), cpuOn(c, 'b')], [0, 1000]);
  });

  test('a node removed keeps its pods as a ghost; back, they count again', () => {
    const c = new SchedulerCache();
    c.upsertNode(makeNode('a').obj());
    c.upsertNode(makeNode('b').obj());
    c.upsertPod(makePod('p').req({ cpu: '1' }).node('a').obj());
    c.removeNode('a');
    assert.equal(c.node('a'), undefined);
    assert.deepEqual(c.nodeList().map((n) => n.name), ['b']);
    assert.equal(c.upsertNode(makeNode('a').obj()), true, 'a node back is news');
    assert.equal(cpuOn(c, 'a'), 1000);
    assert.equal(c.nodeCount, 2);
  });

  test('node updates say whether anything the plugins read changed', () => {
    const c = new SchedulerCache();
    assert.equal(c.upsertNode(makeNode('a').obj()), true);
    const heartbeat = makeNode('a').obj();
    (heartbeat.status as { conditions: { lastHeartbeatTime?: string }[] }).conditions[0]!.lastHeartbeatTime = '2024-01-01T00:00:10Z';
    assert.equal(c.upsertNode(heartbeat), false, 'a heartbeat is not news');
    assert.equal(c.upsertNode(makeNode('a').unschedulable().obj()), true);
    assert.equal(c.upsertNode(makeNode('a').unschedulable().label('x', 'y').obj()), true);
  });

  test('images are counted per node, by normalized name', () => {
    const c = new SchedulerCache();
    c.upsertNode(makeNode('a').image('nginx:1.25', 100).obj());
    c.upsertNode(makeNode('b').image('docker.io/library/nginx:1.25', 100).obj());
    assert.equal(c.nodesWithImage(normalizeImageName('nginx:1.25')), 2);
    c.removeNode('a');
    assert.equal(c.nodesWithImage(normalizeImageName('nginx:1.25')), 1);
  });
});

test('normalizeImageName fills in Docker Hub and the latest tag', () => {
  const cases: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['me/app:2', 'docker.io/me/app:2'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['registry.example.com:5000/shop/app', 'registry.example.com:5000/shop/app:latest'],
    ['localhost/app:dev', 'localhost/app:dev'],
    ['busybox@sha256:abc', 'docker.io/library/busybox@sha256:abc'],
  ];
  for (const [input, want] of cases) assert.equal(normalizeImageName(input), want, input);
});
