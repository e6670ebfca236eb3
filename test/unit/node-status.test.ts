/**
 * The pure Node builder: what a kubelet registers and reports, from host facts
 * given as values and a clock given as a parameter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { internalIPv4, prettyName } from '../../services/kubelet/host-facts.js';
import {
  buildLease,
  buildNode,
  buildNodeStatus,
  goArch,
  microTime,
  rfc3339,
  statusSignature,
  type HostFacts,
  type NodeStatusInput,
} from '../../services/kubelet/node-status.js';
import { parseRuntimeName, defaultNodeName } from '../../services/kubelet/index.js';
import { upNodeNames } from '../../services/up/index.js';

const GiB = 1024 ** 3;

/** A builder: a healthy 4-CPU, 8 GiB machine with a 100 GiB disk; override what a case needs. */
function facts(over: Partial<HostFacts> = {}): HostFacts {
  return {
    cpus: 4,
    memoryBytes: 8 * GiB,
    ephemeralStorageBytes: 100 * GiB,
    internalIP: '10.0.0.5',
    machineID: 'abc123',
    systemUUID: 'uuid-1',
    bootID: 'boot-1',
    kernelVersion: '6.1.0-18-amd64',
    osImage: 'Debian GNU/Linux 12 (bookworm)',
    architecture: 'amd64',
    freeMemoryBytes: 4 * GiB,
    diskAvailableBytes: 50 * GiB,
    ...over,
  };
}

function input(over: Partial<NodeStatusInput> = {}): NodeStatusInput {
  return {
    nodeName: 'n1',
    facts: facts(),
    runtime: { name: 'docker', version: 'docker://20.10.24' },
    images: [],
    now: '2024-05-01T10:00:00Z',
    ...over,
  };
}

const condition = (status: ReturnType<typeof buildNodeStatus>, type: string) => status.conditions.find((c) => c.type === type)!;

test('capacity is the machine; allocatable leaves out the eviction thresholds', () => {
  const s = buildNodeStatus(input());
  assert.deepEqual(s.capacity, { cpu: '4', memory: `${8 * 1024 * 1024}Ki`, pods: '110', 'ephemeral-storage': `${100 * 1024 * 1024}Ki` });
  assert.deepEqual(s.allocatable, {
    cpu: '4',
    memory: `${8 * 1024 * 1024 - 100 * 1024}Ki`,
    pods: '110',
    'ephemeral-storage': String(Math.floor(100 * GiB * 0.9)),
  });
  const noDisk = buildNodeStatus(input({ facts: facts({ ephemeralStorageBytes: undefined, diskAvailableBytes: undefined }) }));
  assert.equal(noDisk.capacity['ephemeral-storage'], undefined);
  assert.equal(condition(noDisk, 'DiskPressure').status, 'False');
});

test('nodeInfo, addresses and the kubelet endpoint', () => {
  const s = buildNodeStatus(input());
  assert.deepEqual(s.nodeInfo, {
    machineID: 'abc123',
    systemUUID: 'uuid-1',
    bootID: 'boot-1',
    kernelVersion: '6.1.0-18-amd64',
    osImage: 'Debian GNU/Linux 12 (bookworm)',
    containerRuntimeVersion: 'docker://20.10.24',
    kubeletVersion: 'v1.32.0-keelson',
    kubeProxyVersion: 'v1.32.0-keelson',
    operatingSystem: 'linux',
    architecture: 'amd64',
  });
  assert.deepEqual(s.addresses, [
    { type: 'InternalIP', address: '10.0.0.5' },
    { type: 'Hostname', address: 'n1' },
  ]);
  assert.deepEqual(s.daemonEndpoints, { kubeletEndpoint: { Port: 10250 } });
});

test('a healthy node: the four conditions with Kubernetes reasons, all stamped now', () => {
  const s = buildNodeStatus(input());
  assert.deepEqual(
    s.conditions.map((c) => [c.type, c.status, c.reason, c.message]),
    [
      ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
      ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
      ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
      ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'],
    ],
  );
  for (const c of s.conditions) {
    assert.equal(c.lastHeartbeatTime, '2024-05-01T10:00:00Z');
    assert.equal(c.lastTransitionTime, '2024-05-01T10:00:00Z');
  }
});

test('pressure: under 100Mi free memory, under 10% free disk; shutting down makes Ready False', () => {
  const s = buildNodeStatus(input({ facts: facts({ freeMemoryBytes: 50 * 1024 * 1024, diskAvailableBytes: 5 * GiB }), notReadyMessage: 'node is shutting down' }));
  assert.deepEqual([condition(s, 'MemoryPressure').status, condition(s, 'MemoryPressure').reason], ['True', 'KubeletHasInsufficientMemory']);
  assert.deepEqual([condition(s, 'DiskPressure').status, condition(s, 'DiskPressure').reason], ['True', 'KubeletHasDiskPressure']);
  assert.deepEqual(
    [condition(s, 'Ready').status, condition(s, 'Ready').reason, condition(s, 'Ready').message],
    ['False', 'KubeletNotReady', 'node is shutting down'],
  );
});

test('heartbeats always move; a transition time only when that condition changes status', () => {
  const first = buildNodeStatus(input({ now: '2024-05-01T10:00:00Z' }));
  const same = buildNodeStatus(input({ now: '2024-05-01T10:00:10Z', previous: first.conditions }));
  for (const c of same.conditions) {
    assert.equal(c.lastHeartbeatTime, '2024-05-01T10:00:10Z');
    assert.equal(c.lastTransitionTime, '2024-05-01T10:00:00Z', `${c.type} moved without a change`);
  }
  const pressed = buildNodeStatus(input({ now: '2024-05-01T10:00:20Z', previous: same.conditions, facts: facts({ freeMemoryBytes: 0 }) }));
  assert.equal(condition(pressed, 'MemoryPressure').lastTransitionTime, '2024-05-01T10:00:20Z');
  assert.equal(condition(pressed, 'Ready').lastTransitionTime, '2024-05-01T10:00:00Z');
  // Only the heartbeats differ between `first` and `same`: nothing to write early.
  assert.equal(statusSignature(first), statusSignature(same));
  assert.notEqual(statusSignature(first), statusSignature(pressed));
});

test('images: largest first, at most 50, nameless ones left out', () => {
  const images = Array.from({ length: 60 }, (_, i) => ({ names: [`img${i}:latest`], sizeBytes: i }));
  images.push({ names: [], sizeBytes: 1e12 });
  const s = buildNodeStatus(input({ images }));
  assert.equal(s.images.length, 50);
  assert.deepEqual(s.images[0], { names: ['img59:latest'], sizeBytes: 59 });
  assert.deepEqual(s.images.at(-1), { names: ['img10:latest'], sizeBytes: 10 });
});

test('the Node: well-known labels, then the given ones', () => {
  const node = buildNode('n1', buildNodeStatus(input({ facts: facts({ architecture: 'arm64' }) })), { zone: 'a', 'kubernetes.io/os': 'linux' });
  assert.equal(node.kind, 'Node');
  assert.deepEqual(node.metadata?.labels, { 'kubernetes.io/hostname': 'n1', 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64', zone: 'a' });
  assert.equal((node.status as { nodeInfo: { architecture: string } }).nodeInfo.architecture, 'arm64');
});

test('the Lease: in kube-node-lease, held by the node, 40 s, renewTime a MicroTime', () => {
  const t = Date.UTC(2024, 4, 1, 10, 0, 0, 123) + 0.456;
  const lease = buildLease('n1', t, { uid: 'u1' });
  assert.deepEqual(lease.metadata, {
    name: 'n1',
    namespace: 'kube-node-lease',
    ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'u1' }],
  });
  assert.deepEqual(lease.spec, { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2024-05-01T10:00:00.123456Z' });
  const renewed = buildLease('n1', t + 10_000, undefined, { ...lease, metadata: { ...lease.metadata, resourceVersion: '7' }, spec: { ...(lease.spec as object), acquireTime: 'x' } });
  assert.equal(renewed.metadata?.resourceVersion, '7');
  assert.equal((renewed.spec as { acquireTime: string }).acquireTime, 'x');
  assert.equal((renewed.spec as { renewTime: string }).renewTime, '2024-05-01T10:00:10.123456Z');
});

test('time formats, architecture names, host parsing', () => {
  assert.equal(microTime(Date.UTC(2024, 0, 2, 3, 4, 5, 6)), '2024-01-02T03:04:05.006000Z');
  assert.match(microTime(Date.now() + 0.5), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.equal(rfc3339(Date.UTC(2024, 0, 2, 3, 4, 5, 999)), '2024-01-02T03:04:05Z');
  assert.deepEqual(['x64', 'arm64', 'ia32'].map(goArch), ['amd64', 'arm64', '386']);
  assert.equal(prettyName('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'), 'Debian GNU/Linux 12 (bookworm)');
  assert.equal(prettyName('ID=x'), '');
  assert.equal(
    internalIPv4({
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true, netmask: '255.0.0.0', mac: '', cidr: null }],
      eth0: [
        { address: 'fe80::1', family: 'IPv6', internal: false, netmask: '', mac: '', cidr: null, scopeid: 0 },
        { address: '192.168.1.9', family: 'IPv4', internal: false, netmask: '255.255.255.0', mac: '', cidr: null },
      ],
    }),
    '192.168.1.9',
  );
  assert.equal(internalIPv4({}), '127.0.0.1');
});

test('node names and runtime names from the command line', () => {
  assert.equal(defaultNodeName('My_Host.local'), 'my-host.local');
  assert.equal(defaultNodeName('---'), 'keelson-node');
  assert.deepEqual(upNodeNames(1, 'h'), ['h']);
  assert.deepEqual(upNodeNames(3, 'h'), ['h-1', 'h-2', 'h-3']);
  assert.deepEqual(upNodeNames(0, 'h'), []);
  assert.throws(() => upNodeNames(-1, 'h'));
  assert.equal(parseRuntimeName(undefined), 'auto');
  assert.equal(parseRuntimeName('fake'), 'fake');
  assert.throws(() => parseRuntimeName('podman'), /unknown runtime "podman"/);
});
