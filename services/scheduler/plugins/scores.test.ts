/**
 * The score plugins, table-driven: raw scores per node and, through the
 * plugin's own normalize, the 0..100 scores kube-scheduler would give.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultNormalize, type ScorePlugin } from '../framework/index.js';
import { clusterOf, makeNode, makePod, type NodeBuilder, type PodBuilder } from '../testing/builders.js';
import { ZONE_LABEL } from '../cache/index.js';
import { balancedAllocation, imageLocality, leastAllocated, nodeAffinityScore, selectorSpread, taintTolerationScore } from './index.js';

type Case = { name: string; pod: PodBuilder; nodes: [NodeBuilder, PodBuilder[]?][]; want: number[] | 'skip' };

function run(plugin: ScorePlugin, cases: Case[]): void {
  for (const c of cases) {
    test(c.name, () => {
      const pod = c.pod.info();
      if (c.want === 'skip') {
        assert.equal(plugin.skip?.(pod), true);
        return;
      }
      assert.notEqual(plugin.skip?.(pod), true, 'not skipped');
      const nodes = c.nodes.map(([n, on]) => n.info(on ?? []));
      const scores = new Float64Array(nodes.length).fill(-1);
      plugin.score(pod, nodes, scores, clusterOf(nodes));
      plugin.normalize?.(pod, nodes, scores);
      assert.deepEqual([...scores], c.want);
    });
  }
}

const MB = 1024 * 1024;

describe('NodeResourcesLeastAllocated', () => {
  run(leastAllocated, [
    {
      name: 'the emptier node scores higher (cpu and memory averaged)',
      pod: makePod().req({ cpu: '1', memory: '1Gi' }),
      nodes: [[makeNode('a').cpu('4').memory('4Gi')], [makeNode('b').cpu('4').memory('4Gi'), [makePod('x').req({ cpu: '2', memory: '2Gi' })]]],
      // a: (3/4·100 + 3/4·100)/2 = 75; b: (1/4·100 + 1/4·100)/2 = 25
      want: [75, 25],
    },
    {
      name: 'a pod without requests counts as 100m and 200Mi',
      pod: makePod(),
      nodes: [[makeNode('a').cpu('1').memory('1000Mi')]],
      // cpu (1000−100)/1000 → 90; memory (1000−200)/1000 → 80
      want: [85],
    },
    { name: 'over capacity scores 0', pod: makePod().req({ cpu: '8', memory: '16Gi' }), nodes: [[makeNode('a')]], want: [0] },
  ]);
});

describe('NodeResourcesBalancedAllocation', () => {
  run(balancedAllocation, [
    { name: 'a pod that requests nothing: skipped', pod: makePod(), nodes: [], want: 'skip' },
    {
      name: 'equal fractions score 100; lopsided lower',
      pod: makePod().req({ cpu: '1', memory: '1Gi' }),
      nodes: [[makeNode('a').cpu('4').memory('4Gi')], [makeNode('b').cpu('2').memory('8Gi')]],
      // a: 1/4 and 1/4 → 100; b: 1/2 and 1/8 → std 0.1875 → 81
      want: [100, 81],
    },
  ]);
});

describe('ImageLocality', () => {
  run(imageLocality, [
    { name: 'a pod with no image: skipped', pod: makePod().image(''), nodes: [], want: 'skip' },
    {
      name: 'a big image on half the nodes; names normalized',
      pod: makePod().image('nginx'),
      nodes: [[makeNode('a').image('docker.io/library/nginx:latest', 500 * MB)], [makeNode('b')]],
      // 500 MB × 1/2 = 250 MB; (250 − 23) / (1000 − 23) × 100 = 23
      want: [23, 0],
    },
    { name: 'below the 23 MB threshold: 0', pod: makePod().image('busybox:1.36'), nodes: [[makeNode('a').image('busybox:1.36', 5 * MB)]], want: [0] },
  ]);
});

describe('NodeAffinity (preferred)', () => {
  run(nodeAffinityScore, [
    { name: 'no preferred terms: skipped', pod: makePod(), nodes: [], want: 'skip' },
    {
      name: 'weights of the matching terms, normalized to the best',
      pod: makePod().preferredTerm(80, ['disk', 'In', ['ssd']]).preferredTerm(20, ['zone', 'In', ['a']]),
      nodes: [[makeNode('a').label('disk', 'ssd').label('zone', 'a')], [makeNode('b').label('disk', 'ssd')], [makeNode('c').label('zone', 'a')], [makeNode('d')]],
      want: [100, 80, 20, 0],
    },
  ]);
});

describe('TaintToleration (score)', () => {
  run(taintTolerationScore, [
    {
      name: 'fewer untolerated PreferNoSchedule taints score higher',
      pod: makePod().toleration('tolerated', 'Exists', '', 'PreferNoSchedule'),
      nodes: [
        [makeNode('a')],
        [makeNode('b').taint('soft', '1', 'PreferNoSchedule')],
        [makeNode('c').taint('soft', '1', 'PreferNoSchedule').taint('soft2', '1', 'PreferNoSchedule')],
        [makeNode('d').taint('tolerated', '1', 'PreferNoSchedule')],
      ],
      want: [100, 50, 0, 100],
    },
  ]);
});

describe('SelectorSpread', () => {
  const rs = (name: string) => makePod(name).owner('rs-1');
  run(selectorSpread, [
    { name: 'a pod without a controller: skipped', pod: makePod(), nodes: [], want: 'skip' },
    {
      name: 'fewer pods of the same owner score higher; other owners do not count',
      pod: rs('new'),
      nodes: [[makeNode('a'), [rs('x'), rs('y')]], [makeNode('b'), [rs('z'), makePod('other').owner('rs-2')]], [makeNode('c')]],
      want: [0, 50, 100],
    },
    {
      name: 'zones weigh 2/3',
      pod: rs('new'),
      nodes: [
        [makeNode('a').label(ZONE_LABEL, 'z1'), [rs('x')]],
        [makeNode('b').label(ZONE_LABEL, 'z1')],
        [makeNode('c').label(ZONE_LABEL, 'z2')],
      ],
      // a: node 0, zone z1 (1 of max 1) 0 → 0; b: node 100·1/3 + zone 0 → 33; c: 100
      want: [0, 33, 100],
    },
  ]);
});

test('defaultNormalize scales by the maximum, or reverses', () => {
  const s = Float64Array.from([0, 5, 10]);
  defaultNormalize(s, false);
  assert.deepEqual([...s], [0, 50, 100]);
  const r = Float64Array.from([0, 5, 10]);
  defaultNormalize(r, true);
  assert.deepEqual([...r], [100, 50, 0]);
  const z = Float64Array.from([0, 0]);
  defaultNormalize(z, true);
  assert.deepEqual([...z], [100, 100]);
});
