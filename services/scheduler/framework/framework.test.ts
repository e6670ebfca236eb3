/**
 * One scheduling decision: how many nodes are examined (kube-scheduler's
 * percentageOfNodesToScore), the rotation of the start between pods, the
 * FailedScheduling message, and the choice among the feasible nodes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SchedulerCache, type NodeInfo } from '../cache/index.js';
import { defaultProfile } from '../plugins/index.js';
import { clusterOf, makeNode, makePod } from '../testing/builders.js';
import { Framework, fitErrorMessage, numFeasibleNodesToFind, SUCCESS, type FilterPlugin, type Profile } from './index.js';

describe('numFeasibleNodesToFind', () => {
  const cases: [percentage: number | undefined, nodes: number, want: number][] = [
    [undefined, 0, 0],
    [undefined, 50, 50],
    [undefined, 99, 99],
    [undefined, 100, 100], // 50 − 0 = 50 % of 100 → 50, raised to the minimum 100
    [undefined, 1_000, 420], // 50 − 8 = 42 %
    [undefined, 5_000, 500], // 50 − 40 = 10 %
    [undefined, 6_000, 300], // 50 − 48 = 2 % → 5 %
    [undefined, 1_200, 492], // 50 − 9 = 41 %
    [0, 1_000, 420],
    [10, 1_000, 100],
    [5, 1_000, 100], // 50 nodes → at least 100
    [30, 1_000, 300],
    [100, 1_000, 1_000],
    [150, 1_000, 1_000],
  ];
  for (const [p, n, want] of cases) {
    test(`${p ?? 'adaptive'} % of ${n} nodes → ${want}`, () => assert.equal(numFeasibleNodesToFind(p, n), want));
  }
});

describe('fitErrorMessage', () => {
  test('reasons counted and sorted as strings, as kube-scheduler prints them', () => {
    const m = fitErrorMessage(
      3,
      new Map([
        ['node(s) were unschedulable', 1],
        ['Insufficient cpu', 2],
      ]),
    );
    assert.equal(m, '0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.');
    // Go's sort.Strings: "10 …" sorts before "2 …".
    assert.equal(
      fitErrorMessage(12, new Map([['Insufficient memory', 2], ['Insufficient cpu', 10]])),
      '0/12 nodes are available: 10 Insufficient cpu, 2 Insufficient memory.',
    );
  });
  test('no nodes at all', () => assert.equal(fitErrorMessage(0, new Map()), 'no nodes available to schedule pods'));
});

function cacheWith(nodes: ReturnType<typeof makeNode>[]): SchedulerCache {
  const c = new SchedulerCache();
  for (const n of nodes) c.upsertNode(n.obj());
  return c;
}

describe('Framework.schedule', () => {
  test('counts every rejection over all nodes, one plugin per node', () => {
    const cache = cacheWith([makeNode('a').cpu('1'), makeNode('b').cpu('1'), makeNode('c').unschedulable(), makeNode('d').taint('gpu', 'x', 'NoSchedule')]);
    const r = new Framework(defaultProfile()).schedule(makePod().req({ cpu: '2' }).info(), cache.nodeList(), cache);
    assert.equal(r.kind, 'unschedulable');
    assert.equal(
      r.kind === 'unschedulable' && r.message,
      '0/4 nodes are available: 1 node(s) had untolerated taint {gpu: x}, 1 node(s) were unschedulable, 2 Insufficient cpu.',
    );
    assert.deepEqual(r.kind === 'unschedulable' && [...r.plugins].sort(), ['NodeResourcesFit', 'NodeUnschedulable', 'TaintToleration']);
  });

  test('picks the best node by weighted score', () => {
    const cache = cacheWith([makeNode('busy').cpu('4'), makeNode('idle').cpu('4')]);
    cache.assume(makePod('x').req({ cpu: '3', memory: '6Gi' }).info(), 'busy');
    const r = new Framework(defaultProfile()).schedule(makePod().req({ cpu: '500m', memory: '512Mi' }).info(), cache.nodeList(), cache);
    assert.equal(r.kind === 'scheduled' && r.node.name, 'idle');
  });

  test('spreads the pods of one owner', () => {
    const cache = cacheWith([makeNode('a'), makeNode('b'), makeNode('c')]);
    const fw = new Framework(defaultProfile());
    const placed: string[] = [];
    for (let i = 0; i < 9; i++) {
      const pod = makePod(`web-${i}`).owner('rs-web').info();
      const r = fw.schedule(pod, cache.nodeList(), cache);
      assert.equal(r.kind, 'scheduled');
      if (r.kind === 'scheduled') {
        cache.assume(pod, r.node.name);
        placed.push(r.node.name);
      }
    }
    const count = (n: string) => placed.filter((p) => p === n).length;
    assert.deepEqual([count('a'), count('b'), count('c')], [3, 3, 3]);
  });

  test('samples: stops after enough feasible nodes, and the next pod starts where this one stopped', () => {
    const nodes: NodeInfo[] = Array.from({ length: 1_000 }, (_, i) => makeNode(`n${i}`).info());
    const seen: string[] = [];
    const spy: FilterPlugin = {
      name: 'Spy',
      filter: (_pod, node) => {
        seen.push(node.name);
        return SUCCESS;
      },
    };
    const profile: Profile = { filters: [spy], scores: [] };
    const fw = new Framework(profile, { percentageOfNodesToScore: 10 });
    const cluster = clusterOf(nodes);
    const first = fw.schedule(makePod().info(), nodes, cluster);
    assert.equal(first.kind === 'scheduled' && first.evaluated, 100);
    assert.deepEqual([seen[0], seen[99]], ['n0', 'n99']);
    seen.length = 0;
    fw.schedule(makePod().info(), nodes, cluster);
    assert.deepEqual([seen[0], seen[99]], ['n100', 'n199']);
    // Wraps around the end of the list.
    for (let i = 0; i < 8; i++) fw.schedule(makePod().info(), nodes, cluster);
    seen.length = 0;
    fw.schedule(makePod().info(), nodes, cluster);
    assert.equal(seen[0], 'n0');
  });

  test('keeps looking past infeasible nodes until it has enough feasible ones', () => {
    const nodes: NodeInfo[] = Array.from({ length: 200 }, (_, i) => (i % 2 ? makeNode(`n${i}`) : makeNode(`n${i}`).unschedulable()).info());
    const fw = new Framework(defaultProfile(), { percentageOfNodesToScore: 5 });
    const r = fw.schedule(makePod().info(), nodes, clusterOf(nodes));
    assert.equal(r.kind === 'scheduled' && r.feasible, 100);
    assert.equal(r.kind === 'scheduled' && r.evaluated, 200);
  });

  test('ties are broken at random among the best', () => {
    const cache = cacheWith([makeNode('a'), makeNode('b'), makeNode('c')]);
    const picks = new Set<string>();
    for (const x of [0, 0.4, 0.9]) {
      const fw = new Framework(defaultProfile(), { random: () => x });
      const r = fw.schedule(makePod().info(), cache.nodeList(), cache);
      if (r.kind === 'scheduled') picks.add(r.node.name);
    }
    assert.ok(picks.size > 1, `always ${[...picks]}`);
  });
});
