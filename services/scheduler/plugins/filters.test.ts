/**
 * The filter plugins, one table each: a pod, a node (with the pods on it), and
 * the status kube-scheduler would give — code and reasons in its words.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code, type FilterPlugin, type Status } from '../framework/index.js';
import { makeNode, makePod, type NodeBuilder, type PodBuilder } from '../testing/builders.js';
import {
  ERR_NODE_AFFINITY,
  ERR_NODE_NAME,
  ERR_NODE_PORTS,
  ERR_NOT_READY,
  ERR_UNSCHEDULABLE,
  nodeAffinityFilter,
  nodeName,
  nodePorts,
  nodeReady,
  nodeResourcesFit,
  nodeUnschedulable,
  taintTolerationFilter,
} from './index.js';

type Case = { name: string; pod: PodBuilder; node: NodeBuilder; on?: PodBuilder[]; want: [Code, ...string[]] | 'fits' | 'skip' };

function run(plugin: FilterPlugin, cases: Case[]): void {
  for (const c of cases) {
    test(c.name, () => {
      const pod = c.pod.info();
      if (c.want === 'skip') {
        assert.equal(plugin.skip?.(pod), true, 'the plugin skips this pod');
        return;
      }
      assert.notEqual(plugin.skip?.(pod), true, 'the plugin does not skip this pod');
      const s: Status = plugin.filter(pod, c.node.info(c.on ?? []));
      if (c.want === 'fits') assert.equal(s.code, Code.Success, `rejected: ${s.reasons.join(', ')}`);
      else assert.deepEqual([s.code, ...s.reasons], c.want);
    });
  }
}

const U = Code.Unschedulable;
const UU = Code.UnschedulableAndUnresolvable;

describe('NodeResourcesFit', () => {
  run(nodeResourcesFit, [
    { name: 'an empty node takes a pod that fits', pod: makePod().req({ cpu: '1', memory: '1Gi' }), node: makeNode().cpu('2').memory('2Gi'), want: 'fits' },
    { name: 'exactly the rest fits', pod: makePod().req({ cpu: '1' }), node: makeNode().cpu('2'), on: [makePod('a').req({ cpu: '1' })], want: 'fits' },
    { name: 'cpu the bound pods took is not there', pod: makePod().req({ cpu: '1500m' }), node: makeNode().cpu('2'), on: [makePod('a').req({ cpu: '1' })], want: [U, 'Insufficient cpu'] },
    { name: 'memory short', pod: makePod().req({ memory: '3Gi' }), node: makeNode().memory('2Gi'), want: [U, 'Insufficient memory'] },
    { name: 'cpu and memory short: both reasons', pod: makePod().req({ cpu: '8', memory: '16Gi' }), node: makeNode(), want: [U, 'Insufficient cpu', 'Insufficient memory'] },
    { name: 'no requests fit a full node', pod: makePod(), node: makeNode().cpu('1'), on: [makePod('a').req({ cpu: '1' })], want: 'fits' },
    { name: 'the pod limit', pod: makePod(), node: makeNode().pods(2), on: [makePod('a'), makePod('b')], want: [U, 'Too many pods'] },
    { name: 'two containers add up', pod: makePod().req({ cpu: '1' }).container2({ cpu: '1500m' }), node: makeNode().cpu('2'), want: [U, 'Insufficient cpu'] },
    { name: 'the biggest init container counts', pod: makePod().req({ cpu: '500m' }).initContainer({ cpu: '3' }), node: makeNode().cpu('2'), want: [U, 'Insufficient cpu'] },
    { name: 'init containers run one at a time', pod: makePod().req({ cpu: '1' }).initContainer({ cpu: '1' }).initContainer({ cpu: '1' }), node: makeNode().cpu('1'), want: 'fits' },
    { name: 'a sidecar init container adds', pod: makePod().req({ cpu: '1' }).initContainer({ cpu: '500m' }, 'Always'), node: makeNode().cpu('1'), want: [U, 'Insufficient cpu'] },
    {
      name: 'a sidecar started after a regular init container does not add to its peak',
      pod: makePod().req({ cpu: '1' }).initContainer({ cpu: '2' }).initContainer({ cpu: '500m' }, 'Always'),
      node: makeNode().cpu('2'),
      want: 'fits',
    },
    { name: 'overhead counts', pod: makePod().req({ cpu: '1' }).overhead({ cpu: '250m' }), node: makeNode().cpu('1'), want: [U, 'Insufficient cpu'] },
    { name: 'an extended resource the node lacks', pod: makePod().req({ 'example.com/gpu': '1' }), node: makeNode(), want: [U, 'Insufficient example.com/gpu'] },
    { name: 'an extended resource the node has', pod: makePod().req({ 'example.com/gpu': '1' }), node: makeNode().allocatable('example.com/gpu', '2'), want: 'fits' },
  ]);
});

describe('NodeName', () => {
  run(nodeName, [
    { name: 'no node named: nothing to check', pod: makePod(), node: makeNode('a'), want: 'skip' },
    { name: 'the named node', pod: makePod().node('a'), node: makeNode('a'), want: 'fits' },
    { name: 'another node', pod: makePod().node('a'), node: makeNode('b'), want: [UU, ERR_NODE_NAME] },
  ]);
});

describe('NodeUnschedulable', () => {
  run(nodeUnschedulable, [
    { name: 'a schedulable node', pod: makePod(), node: makeNode(), want: 'fits' },
    { name: 'a cordoned node', pod: makePod(), node: makeNode().unschedulable(), want: [UU, ERR_UNSCHEDULABLE] },
    {
      name: 'a pod tolerating the cordon',
      pod: makePod().toleration('node.kubernetes.io/unschedulable', 'Exists', '', 'NoSchedule'),
      node: makeNode().unschedulable(),
      want: 'fits',
    },
    { name: 'a toleration for another effect does not help', pod: makePod().toleration('node.kubernetes.io/unschedulable', 'Exists', '', 'NoExecute'), node: makeNode().unschedulable(), want: [UU, ERR_UNSCHEDULABLE] },
  ]);
});

describe('NodeReady', () => {
  run(nodeReady, [
    { name: 'Ready True', pod: makePod(), node: makeNode(), want: 'fits' },
    { name: 'Ready False', pod: makePod(), node: makeNode().ready('False'), want: [UU, ERR_NOT_READY] },
    { name: 'Ready Unknown', pod: makePod(), node: makeNode().ready('Unknown'), want: [UU, ERR_NOT_READY] },
    { name: 'no Ready condition yet', pod: makePod(), node: makeNode().ready('missing'), want: [UU, ERR_NOT_READY] },
    { name: 'tolerating not-ready', pod: makePod().toleration('node.kubernetes.io/not-ready', 'Exists'), node: makeNode().ready('False'), want: 'fits' },
    { name: 'not-ready does not cover unreachable', pod: makePod().toleration('node.kubernetes.io/not-ready', 'Exists'), node: makeNode().ready('Unknown'), want: [UU, ERR_NOT_READY] },
    { name: 'tolerating everything', pod: makePod().toleration('', 'Exists'), node: makeNode().ready('Unknown'), want: 'fits' },
  ]);
});

describe('TaintToleration', () => {
  const gpu = () => makeNode().taint('gpu', 'true', 'NoSchedule');
  run(taintTolerationFilter, [
    { name: 'no taints', pod: makePod(), node: makeNode(), want: 'fits' },
    { name: 'an untolerated NoSchedule taint', pod: makePod(), node: gpu(), want: [UU, 'node(s) had untolerated taint {gpu: true}'] },
    { name: 'an untolerated NoExecute taint', pod: makePod(), node: makeNode().taint('dedicated', 'db', 'NoExecute'), want: [UU, 'node(s) had untolerated taint {dedicated: db}'] },
    { name: 'PreferNoSchedule does not filter', pod: makePod(), node: makeNode().taint('soft', 'x', 'PreferNoSchedule'), want: 'fits' },
    { name: 'Equal with the value', pod: makePod().toleration('gpu', 'Equal', 'true', 'NoSchedule'), node: gpu(), want: 'fits' },
    { name: 'Equal with another value', pod: makePod().toleration('gpu', 'Equal', 'false', 'NoSchedule'), node: gpu(), want: [UU, 'node(s) had untolerated taint {gpu: true}'] },
    { name: 'Exists on the key, any effect', pod: makePod().toleration('gpu', 'Exists'), node: gpu(), want: 'fits' },
    { name: 'the wrong effect', pod: makePod().toleration('gpu', 'Exists', '', 'NoExecute'), node: gpu(), want: [UU, 'node(s) had untolerated taint {gpu: true}'] },
    { name: 'an empty key with Exists tolerates all', pod: makePod().toleration('', 'Exists'), node: gpu().taint('x', 'y', 'NoExecute'), want: 'fits' },
    {
      name: 'the first untolerated taint is named',
      pod: makePod().toleration('gpu', 'Exists'),
      node: gpu().taint('zone-maintenance', '', 'NoSchedule'),
      want: [UU, 'node(s) had untolerated taint {zone-maintenance: }'],
    },
  ]);
});

describe('NodeAffinity (filter)', () => {
  const zoned = (zone: string) => makeNode(`n-${zone}`).label('zone', zone).label('cores', '8');
  run(nodeAffinityFilter, [
    { name: 'neither selector nor affinity: skipped', pod: makePod(), node: makeNode(), want: 'skip' },
    { name: 'nodeSelector matches', pod: makePod().nodeSelector({ zone: 'a' }), node: zoned('a'), want: 'fits' },
    { name: 'nodeSelector does not', pod: makePod().nodeSelector({ zone: 'a' }), node: zoned('b'), want: [UU, ERR_NODE_AFFINITY] },
    { name: 'In', pod: makePod().requiredTerm(['zone', 'In', ['a', 'b']]), node: zoned('b'), want: 'fits' },
    { name: 'NotIn', pod: makePod().requiredTerm(['zone', 'NotIn', ['a']]), node: zoned('a'), want: [UU, ERR_NODE_AFFINITY] },
    { name: 'NotIn on a missing label matches', pod: makePod().requiredTerm(['rack', 'NotIn', ['r1']]), node: zoned('a'), want: 'fits' },
    { name: 'Exists', pod: makePod().requiredTerm(['zone', 'Exists']), node: zoned('a'), want: 'fits' },
    { name: 'DoesNotExist', pod: makePod().requiredTerm(['zone', 'DoesNotExist']), node: zoned('a'), want: [UU, ERR_NODE_AFFINITY] },
    { name: 'Gt', pod: makePod().requiredTerm(['cores', 'Gt', ['4']]), node: zoned('a'), want: 'fits' },
    { name: 'Lt', pod: makePod().requiredTerm(['cores', 'Lt', ['4']]), node: zoned('a'), want: [UU, ERR_NODE_AFFINITY] },
    { name: 'Gt on a non-number', pod: makePod().requiredTerm(['zone', 'Gt', ['1']]), node: zoned('a'), want: [UU, ERR_NODE_AFFINITY] },
    { name: 'expressions of a term are ANDed', pod: makePod().requiredTerm(['zone', 'In', ['a']], ['cores', 'Gt', ['16']]), node: zoned('a'), want: [UU, ERR_NODE_AFFINITY] },
    { name: 'terms are ORed', pod: makePod().requiredTerm(['zone', 'In', ['x']]).requiredTerm(['zone', 'In', ['a']]), node: zoned('a'), want: 'fits' },
    { name: 'selector AND affinity', pod: makePod().nodeSelector({ zone: 'b' }).requiredTerm(['zone', 'In', ['a']]), node: zoned('a'), want: [UU, ERR_NODE_AFFINITY] },
    { name: 'matchFields on metadata.name', pod: makePod().requiredField('In', ['n-a']), node: zoned('a'), want: 'fits' },
  ]);
});

describe('NodePorts', () => {
  run(nodePorts, [
    { name: 'no host ports: skipped', pod: makePod(), node: makeNode(), want: 'skip' },
    { name: 'a free port', pod: makePod().hostPort(8080), node: makeNode(), on: [makePod('a').hostPort(9090)], want: 'fits' },
    { name: 'the same port', pod: makePod().hostPort(8080), node: makeNode(), on: [makePod('a').hostPort(8080)], want: [U, ERR_NODE_PORTS] },
    { name: 'same number, other protocol', pod: makePod().hostPort(53, 'UDP'), node: makeNode(), on: [makePod('a').hostPort(53, 'TCP')], want: 'fits' },
    { name: 'different IPs do not clash', pod: makePod().hostPort(80, 'TCP', '10.0.0.1'), node: makeNode(), on: [makePod('a').hostPort(80, 'TCP', '10.0.0.2')], want: 'fits' },
    { name: 'a wildcard holder clashes with a specific IP', pod: makePod().hostPort(80, 'TCP', '10.0.0.1'), node: makeNode(), on: [makePod('a').hostPort(80)], want: [U, ERR_NODE_PORTS] },
    { name: 'a wildcard request clashes with a specific holder', pod: makePod().hostPort(80), node: makeNode(), on: [makePod('a').hostPort(80, 'TCP', '10.0.0.2')], want: [U, ERR_NODE_PORTS] },
  ]);
});
