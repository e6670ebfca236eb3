import { test } from 'node:test';
import assert from 'node:assert/strict';

import { resourceForKind, type KObject, type ResourceInfo } from '../../services/lib/api/resources.js';
import { age, humanDuration, printerFor, toTable, type Table, type TableCell } from '../../services/apiserver/tables/index.js';

// ---------------------------------------------------------------- helpers

const NOW = new Date('2025-06-01T12:00:00Z');
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

/** An RFC 3339 timestamp `ms` before NOW. */
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

function res(kind: string): ResourceInfo {
  const r = resourceForKind(kind);
  assert.ok(r, `no resource for ${kind}`);
  return r;
}

/** kubectl's view: header names upper-cased, as it prints them. */
function headers(t: Table, opts: { wide?: boolean } = {}): string[] {
  return t.columnDefinitions.filter((c) => opts.wide || c.priority === 0).map((c) => c.name.toUpperCase());
}

/** One row as kubectl shows it: `{ HEADER: cell }`, wide columns included. */
function row(kind: string, obj: KObject): Record<string, TableCell> {
  const t = toTable(res(kind), [obj], { resourceVersion: '1', now: NOW });
  assert.equal(t.rows.length, 1);
  const cells = t.rows[0]!.cells;
  assert.equal(cells.length, t.columnDefinitions.length, 'one cell per column');
  return Object.fromEntries(t.columnDefinitions.map((c, i) => [c.name.toUpperCase(), cells[i]!]));
}

function meta(name: string, extra: Record<string, unknown> = {}) {
  return { name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: ago(5 * M), ...extra };
}

// ---------------------------------------------------------------- pod builder

type ContainerOpts = {
  ready?: boolean;
  restarts?: number;
  waiting?: string;
  terminated?: { reason?: string; exitCode?: number; signal?: number };
  /** Milliseconds before NOW that the previous instance terminated. */
  lastTerminated?: number;
  started?: boolean;
  image?: string;
};

function containerStatus(name: string, o: ContainerOpts) {
  const state = o.waiting
    ? { waiting: { reason: o.waiting } }
    : o.terminated
      ? { terminated: { exitCode: 0, ...o.terminated } }
      : { running: { startedAt: ago(M) } };
  return {
    name,
    ready: o.ready ?? false,
    restartCount: o.restarts ?? 0,
    ...(o.started !== undefined ? { started: o.started } : {}),
    state,
    lastState:
      o.lastTerminated !== undefined
        ? { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(o.lastTerminated) } }
        : {},
  };
}

function pod(name: string) {
  const metadata: Record<string, unknown> = meta(name);
  const spec: Record<string, unknown> & { containers: unknown[]; initContainers: unknown[] } = {
    containers: [],
    initContainers: [],
  };
  const status: Record<string, unknown> & {
    containerStatuses: unknown[];
    initContainerStatuses: unknown[];
    conditions: unknown[];
  } = { phase: 'Pending', containerStatuses: [], initContainerStatuses: [], conditions: [] };
  const b = {
    phase(p: string) {
      status.phase = p;
      return b;
    },
    reason(r: string) {
      status.reason = r;
      return b;
    },
    /** A container in the spec; with `opts`, also its status. */
    container(n: string, opts?: ContainerOpts) {
      spec.containers.push({ name: n, image: opts?.image ?? `${n}:latest` });
      if (opts) status.containerStatuses.push(containerStatus(n, opts));
      return b;
    },
    init(n: string, opts?: ContainerOpts & { sidecar?: boolean }) {
      spec.initContainers.push({ name: n, image: `${n}:1`, ...(opts?.sidecar ? { restartPolicy: 'Always' } : {}) });
      if (opts) status.initContainerStatuses.push(containerStatus(n, opts));
      return b;
    },
    condition(type: string, s: 'True' | 'False', reason?: string) {
      status.conditions.push({ type, status: s, ...(reason ? { reason } : {}) });
      return b;
    },
    gate(type: string) {
      spec.readinessGates = [...((spec.readinessGates as unknown[]) ?? []), { conditionType: type }];
      return b;
    },
    deleting() {
      metadata.deletionTimestamp = ago(S);
      return b;
    },
    node(n: string) {
      spec.nodeName = n;
      return b;
    },
    ip(ip: string) {
      status.podIP = ip;
      status.podIPs = [{ ip }];
      return b;
    },
    nominated(n: string) {
      status.nominatedNodeName = n;
      return b;
    },
    build(): KObject {
      return { apiVersion: 'v1', kind: 'Pod', metadata: structuredClone(metadata), spec: structuredClone(spec), status: structuredClone(status) };
    },
  };
  return b;
}

const podStatus = (p: ReturnType<typeof pod>) => row('Pod', p.build()).STATUS;

// ---------------------------------------------------------------- age

test('humanDuration follows kubectl HumanDuration', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [1500, '1s'],
    [5 * S, '5s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [3 * M + 20 * S, '3m20s'],
    [9 * M + 59 * S, '9m59s'],
    [10 * M + 30 * S, '10m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [4 * H + 10 * M, '4h10m'],
    [7 * H + 59 * M, '7h59m'],
    [8 * H + 30 * M, '8h'],
    [47 * H, '47h'],
    [2 * D, '2d'],
    [2 * D + 3 * H, '2d3h'],
    [7 * D + 23 * H, '7d23h'],
    [8 * D + 5 * H, '8d'],
    [400 * D, '400d'],
    [729 * D, '729d'],
    [730 * D, '2y'],
    [760 * D, '2y30d'],
    [8 * 365 * D, '8y'],
    [20 * 365 * D + 100 * D, '20y'],
    [-999, '0s'],
    [-1999, '0s'],
    [-2 * S, '<invalid>'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
});

test('age: since a timestamp; <unknown> when missing or zero', () => {
  assert.equal(age(ago(4 * H), NOW), '4h');
  assert.equal(age(undefined, NOW), '<unknown>');
  assert.equal(age('', NOW), '<unknown>');
  assert.equal(age('not a date', NOW), '<unknown>');
  assert.equal(age('0001-01-01T00:00:00Z', NOW), '<unknown>');
});

// ---------------------------------------------------------------- table envelope

test('table envelope: kind, apiVersion, resourceVersion, continue', () => {
  const t = toTable(res('Pod'), [], { resourceVersion: '42', now: NOW });
  assert.equal(t.kind, 'Table');
  assert.equal(t.apiVersion, 'meta.k8s.io/v1');
  assert.deepEqual(t.metadata, { resourceVersion: '42' });
  assert.deepEqual(t.rows, []);
  const c = toTable(res('Pod'), [], { resourceVersion: '42', continue: 'tok', now: NOW });
  assert.deepEqual(c.metadata, { resourceVersion: '42', continue: 'tok' });
});

test('column definitions: name column has format name; every field present', () => {
  const t = toTable(res('Pod'), [], { resourceVersion: '1' });
  assert.deepEqual(t.columnDefinitions[0], {
    name: 'Name',
    type: 'string',
    format: 'name',
    description: t.columnDefinitions[0]!.description,
    priority: 0,
  });
  assert.ok(t.columnDefinitions[0]!.description.length > 0);
  for (const c of t.columnDefinitions.slice(1)) {
    assert.equal(c.format, '');
    assert.ok(c.description.length > 0, `${c.name} has a description`);
    assert.ok(['string', 'integer', 'number', 'boolean', 'date'].includes(c.type));
  }
});

test('column definitions are copies: mutating one table does not leak into the next', () => {
  const a = toTable(res('Pod'), [], { resourceVersion: '1' });
  a.columnDefinitions[0]!.name = 'Mutated';
  const b = toTable(res('Pod'), [], { resourceVersion: '1' });
  assert.equal(b.columnDefinitions[0]!.name, 'Name');
});

test('includeObject: Metadata (default), Object, None', () => {
  const p = pod('nginx').build();
  p.metadata!.labels = { app: 'web' };

  const def = toTable(res('Pod'), [p], { resourceVersion: '1', now: NOW });
  assert.deepEqual(def.rows[0]!.object, {
    kind: 'PartialObjectMetadata',
    apiVersion: 'meta.k8s.io/v1',
    metadata: p.metadata,
  });

  const md = toTable(res('Pod'), [p], { resourceVersion: '1', includeObject: 'Metadata', now: NOW });
  assert.deepEqual(md.rows[0]!.object, def.rows[0]!.object);

  const full = toTable(res('Pod'), [p], { resourceVersion: '1', includeObject: 'Object', now: NOW });
  assert.deepEqual(full.rows[0]!.object, p);

  const none = toTable(res('Pod'), [p], { resourceVersion: '1', includeObject: 'None', now: NOW });
  assert.ok(!('object' in none.rows[0]!));
  assert.equal(none.rows[0]!.cells[0], 'nginx');
});

test('includeObject=Object fills in apiVersion and kind when the stored object lacks them', () => {
  const t = toTable(res('Deployment'), [{ metadata: meta('web') }], {
    resourceVersion: '1',
    includeObject: 'Object',
    now: NOW,
  });
  const o = t.rows[0]!.object as KObject;
  assert.equal(o.apiVersion, 'apps/v1');
  assert.equal(o.kind, 'Deployment');
});

test('one row per object, in order', () => {
  const t = toTable(res('Pod'), [pod('a').build(), pod('b').build(), pod('c').build()], { resourceVersion: '1', now: NOW });
  assert.deepEqual(t.rows.map((r) => r.cells[0]), ['a', 'b', 'c']);
});

// ---------------------------------------------------------------- wide columns

test('headers per kind as kubectl prints them; wide columns have priority 1', () => {
  const expect: Record<string, { normal: string[]; wide: string[] }> = {
    Pod: {
      normal: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
      wide: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'],
    },
    Node: {
      normal: ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'],
      wide: ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION', 'INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME'],
    },
    Service: {
      normal: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
      wide: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR'],
    },
    Endpoints: { normal: ['NAME', 'ENDPOINTS', 'AGE'], wide: ['NAME', 'ENDPOINTS', 'AGE'] },
    ReplicationController: {
      normal: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
      wide: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR'],
    },
    ReplicaSet: {
      normal: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
      wide: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR'],
    },
    Deployment: {
      normal: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'],
      wide: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR'],
    },
    Event: {
      normal: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
      wide: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'SUBOBJECT', 'SOURCE', 'MESSAGE', 'FIRST SEEN', 'COUNT', 'NAME'],
    },
    Namespace: { normal: ['NAME', 'STATUS', 'AGE'], wide: ['NAME', 'STATUS', 'AGE'] },
    Lease: { normal: ['NAME', 'HOLDER', 'AGE'], wide: ['NAME', 'HOLDER', 'AGE'] },
  };
  for (const [kind, want] of Object.entries(expect)) {
    const t = toTable(res(kind), [], { resourceVersion: '1' });
    assert.deepEqual(headers(t), want.normal, `${kind} normal`);
    assert.deepEqual(headers(t, { wide: true }), want.wide, `${kind} wide`);
    for (const c of t.columnDefinitions) assert.ok(c.priority === 0 || c.priority === 1, `${kind}/${c.name}`);
  }
});

test('every served kind has its own printer (none falls back)', () => {
  for (const kind of ['Pod', 'Node', 'Service', 'Endpoints', 'ReplicationController', 'ReplicaSet', 'Deployment', 'Event', 'Namespace', 'Lease']) {
    assert.notEqual(printerFor(res(kind)), printerFor({ group: 'example.com', kind: 'Widget' }), kind);
  }
});

// ---------------------------------------------------------------- fallback

test('fallback printer: NAME and AGE for an unknown kind', () => {
  const widget: ResourceInfo = { ...res('Lease'), plural: 'widgets', kind: 'Widget', group: 'example.com' };
  const t = toTable(widget, [{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: meta('w1', { creationTimestamp: ago(3 * H) }) }], {
    resourceVersion: '7',
    now: NOW,
  });
  assert.deepEqual(headers(t, { wide: true }), ['NAME', 'AGE']);
  assert.equal(t.columnDefinitions[0]!.format, 'name');
  assert.deepEqual(t.rows[0]!.cells, ['w1', '3h']);
});

test('fallback is chosen by group too: a Pod kind in another group is not printed as a pod', () => {
  const other: ResourceInfo = { ...res('Pod'), group: 'example.com' };
  const t = toTable(other, [pod('x').build()], { resourceVersion: '1', now: NOW });
  assert.deepEqual(headers(t, { wide: true }), ['NAME', 'AGE']);
});

// ---------------------------------------------------------------- pods

test('pod: running pod cells, wide cells', () => {
  const r = row('Pod', pod('nginx').phase('Running').container('a', { ready: true, restarts: 2 }).container('b', { ready: false }).node('node-1').ip('10.0.0.5').build());
  assert.deepEqual(r, {
    NAME: 'nginx',
    READY: '1/2',
    STATUS: 'Running',
    RESTARTS: '2',
    AGE: '5m',
    IP: '10.0.0.5',
    NODE: 'node-1',
    'NOMINATED NODE': '<none>',
    'READINESS GATES': '<none>',
  });
});

test('pod: unscheduled pod shows <none> for IP and NODE, and the nominated node', () => {
  const r = row('Pod', pod('p').container('a').nominated('node-2').build());
  assert.equal(r.READY, '0/1');
  assert.equal(r.STATUS, 'Pending');
  assert.equal(r.RESTARTS, '0');
  assert.equal(r.IP, '<none>');
  assert.equal(r.NODE, '<none>');
  assert.equal(r['NOMINATED NODE'], 'node-2');
});

test('pod: IP falls back to status.podIP when podIPs is absent', () => {
  const p = pod('p').phase('Running').container('a', { ready: true }).build();
  (p.status as Record<string, unknown>).podIP = '10.1.1.1';
  assert.equal(row('Pod', p).IP, '10.1.1.1');
});

test('pod: readiness gates count the true ones', () => {
  const r = row('Pod', pod('p').phase('Running').container('a', { ready: true }).gate('g1').gate('g2').condition('g1', 'True').condition('g2', 'False').build());
  assert.equal(r['READINESS GATES'], '1/2');
});

test('pod: RESTARTS sums containers and shows the last termination age', () => {
  const p = pod('p')
    .phase('Running')
    .container('a', { ready: true, restarts: 1, lastTerminated: 10 * M })
    .container('b', { ready: true, restarts: 2, lastTerminated: 2 * M });
  assert.equal(row('Pod', p.build()).RESTARTS, '3 (2m ago)');
  // Restarts without a known termination time: just the number.
  assert.equal(row('Pod', pod('q').phase('Running').container('a', { ready: true, restarts: 4 }).build()).RESTARTS, '4');
});

test('pod: restart count of 0 never shows an age', () => {
  const p = pod('p').phase('Running').container('a', { ready: true, restarts: 0, lastTerminated: 2 * M });
  assert.equal(row('Pod', p.build()).RESTARTS, '0');
});

test('pod STATUS: phase and container reasons', () => {
  const cases: [string, ReturnType<typeof pod>, string][] = [
    ['pending, no statuses', pod('p').container('a'), 'Pending'],
    ['container creating', pod('p').container('a', { waiting: 'ContainerCreating' }), 'ContainerCreating'],
    ['crash loop', pod('p').phase('Running').container('a', { waiting: 'CrashLoopBackOff', restarts: 5 }), 'CrashLoopBackOff'],
    ['image pull', pod('p').container('a', { waiting: 'ErrImagePull' }), 'ErrImagePull'],
    ['image pull backoff', pod('p').container('a', { waiting: 'ImagePullBackOff' }), 'ImagePullBackOff'],
    ['running', pod('p').phase('Running').container('a', { ready: true }), 'Running'],
    ['completed', pod('p').phase('Succeeded').container('a', { terminated: { reason: 'Completed', exitCode: 0 } }), 'Completed'],
    ['error', pod('p').phase('Failed').container('a', { terminated: { reason: 'Error', exitCode: 1 } }), 'Error'],
    ['OOMKilled', pod('p').phase('Running').container('a', { terminated: { reason: 'OOMKilled', exitCode: 137 } }), 'OOMKilled'],
    ['exit code without reason', pod('p').phase('Failed').container('a', { terminated: { exitCode: 3 } }), 'ExitCode:3'],
    ['signal without reason', pod('p').phase('Failed').container('a', { terminated: { exitCode: 0, signal: 9 } }), 'Signal:9'],
    ['status.reason wins over phase', pod('p').phase('Failed').reason('Evicted').container('a'), 'Evicted'],
    ['scheduling gated', pod('p').container('a').condition('PodScheduled', 'False', 'SchedulingGated'), 'SchedulingGated'],
    // The first container in spec order decides: statuses are walked from the back.
    ['first container wins', pod('p').container('a', { waiting: 'ErrImagePull' }).container('b', { waiting: 'ContainerCreating' }), 'ErrImagePull'],
  ];
  for (const [what, p, want] of cases) assert.equal(podStatus(p), want, what);
});

test('pod STATUS: Completed with another container still running', () => {
  const base = () => pod('p').phase('Running').container('a', { terminated: { reason: 'Completed' } }).container('b', { ready: true });
  // a is listed first, so its Completed is the reason kubectl lands on; b still runs.
  assert.equal(podStatus(base().condition('Ready', 'True')), 'Running');
  assert.equal(podStatus(base().condition('Ready', 'False')), 'NotReady');
});

test('pod STATUS: Terminating, NodeLost and Unknown', () => {
  assert.equal(podStatus(pod('p').phase('Running').container('a', { ready: true }).deleting()), 'Terminating');
  assert.equal(podStatus(pod('p').container('a').deleting()), 'Terminating');
  // A finished pod being deleted keeps its final status.
  assert.equal(podStatus(pod('p').phase('Succeeded').container('a', { terminated: { reason: 'Completed' } }).deleting()), 'Completed');
  assert.equal(podStatus(pod('p').phase('Running').reason('NodeLost').container('a')), 'NodeLost');
  assert.equal(podStatus(pod('p').phase('Running').reason('NodeLost').container('a').deleting()), 'Unknown');
});

test('pod STATUS: init containers', () => {
  const cases: [string, ReturnType<typeof pod>, string][] = [
    ['first init running', pod('p').init('i1', { }).container('a', { waiting: 'PodInitializing' }), 'Init:0/1'],
    ['init waiting PodInitializing', pod('p').init('i1', { waiting: 'PodInitializing' }).container('a'), 'Init:0/1'],
    ['second of two', pod('p').init('i1', { terminated: { reason: 'Completed', exitCode: 0 } }).init('i2', {}).container('a'), 'Init:1/2'],
    ['init crash loop', pod('p').init('i1', { waiting: 'CrashLoopBackOff', restarts: 3 }).container('a'), 'Init:CrashLoopBackOff'],
    ['init failed', pod('p').init('i1', { terminated: { reason: 'Error', exitCode: 1 } }).container('a'), 'Init:Error'],
    ['init failed, no reason', pod('p').init('i1', { terminated: { exitCode: 2 } }).container('a'), 'Init:ExitCode:2'],
    ['init killed, no reason', pod('p').init('i1', { terminated: { exitCode: 1, signal: 15 } }).container('a'), 'Init:Signal:15'],
    [
      'inits done, main container decides',
      pod('p').phase('Running').init('i1', { terminated: { reason: 'Completed' } }).container('a', { ready: true }),
      'Running',
    ],
  ];
  for (const [what, p, want] of cases) assert.equal(podStatus(p), want, what);
});

test('pod: init container restarts count while initialising, not after', () => {
  const initialising = row('Pod', pod('p').init('i1', { waiting: 'CrashLoopBackOff', restarts: 4 }).container('a', { waiting: 'PodInitializing' }).build());
  assert.equal(initialising.RESTARTS, '4');
  assert.equal(initialising.READY, '0/1');
  const done = row('Pod', pod('p').phase('Running').init('i1', { terminated: { reason: 'Completed' }, restarts: 4 }).container('a', { ready: true, restarts: 1 }).build());
  assert.equal(done.RESTARTS, '1');
});

test('pod: sidecar init containers count as containers', () => {
  const r = row(
    'Pod',
    pod('p')
      .phase('Running')
      .init('proxy', { sidecar: true, started: true, ready: true, restarts: 2 })
      .container('a', { ready: true, restarts: 1 })
      .build(),
  );
  assert.equal(r.READY, '2/2');
  assert.equal(r.STATUS, 'Running');
  assert.equal(r.RESTARTS, '3');
});

test('pod: row conditions mark finished pods', () => {
  const t = toTable(res('Pod'), [pod('ok').phase('Succeeded').build(), pod('bad').phase('Failed').build(), pod('run').phase('Running').build()], {
    resourceVersion: '1',
    now: NOW,
  });
  assert.deepEqual(t.rows[0]!.conditions?.map((c) => [c.type, c.status, c.reason]), [['Completed', 'True', 'Succeeded']]);
  assert.deepEqual(t.rows[1]!.conditions?.map((c) => [c.type, c.status, c.reason]), [['Completed', 'True', 'Failed']]);
  assert.equal(t.rows[2]!.conditions, undefined);
});

test('pod: malformed stored object still prints', () => {
  const r = row('Pod', { metadata: { name: 'weird' }, spec: { containers: 'nope' }, status: { containerStatuses: [null, 3] } });
  assert.equal(r.NAME, 'weird');
  assert.equal(r.READY, '0/0');
  assert.equal(r.AGE, '<unknown>');
});

// ---------------------------------------------------------------- nodes

function node(name: string, o: { ready?: 'True' | 'False' | 'Unknown'; unschedulable?: boolean; labels?: Record<string, string>; info?: Record<string, string>; addresses?: [string, string][] } = {}): KObject {
  return {
    kind: 'Node',
    metadata: { ...meta(name), namespace: undefined, creationTimestamp: ago(2 * D + 3 * H), labels: o.labels ?? {} },
    spec: o.unschedulable ? { unschedulable: true } : {},
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False' },
        ...(o.ready ? [{ type: 'Ready', status: o.ready }] : []),
      ],
      nodeInfo: o.info ?? { kubeletVersion: 'v1.32.0' },
      addresses: (o.addresses ?? []).map(([type, address]) => ({ type, address })),
    },
  };
}

test('node: STATUS', () => {
  assert.equal(row('Node', node('n', { ready: 'True' })).STATUS, 'Ready');
  assert.equal(row('Node', node('n', { ready: 'False' })).STATUS, 'NotReady');
  assert.equal(row('Node', node('n', { ready: 'Unknown' })).STATUS, 'NotReady');
  assert.equal(row('Node', node('n')).STATUS, 'Unknown');
  assert.equal(row('Node', node('n', { ready: 'True', unschedulable: true })).STATUS, 'Ready,SchedulingDisabled');
  assert.equal(row('Node', node('n', { unschedulable: true })).STATUS, 'Unknown,SchedulingDisabled');
});

test('node: ROLES from labels, sorted; <none> without', () => {
  const labels = {
    'node-role.kubernetes.io/worker': '',
    'node-role.kubernetes.io/control-plane': '',
    'node-role.kubernetes.io/': 'ignored',
    'kubernetes.io/role': 'infra',
    'kubernetes.io/hostname': 'n',
  };
  assert.equal(row('Node', node('n', { labels })).ROLES, 'control-plane,infra,worker');
  assert.equal(row('Node', node('n')).ROLES, '<none>');
});

test('node: cells and wide cells', () => {
  const r = row(
    'Node',
    node('node-1', {
      ready: 'True',
      info: { kubeletVersion: 'v1.32.1', osImage: 'Debian GNU/Linux 12', kernelVersion: '6.1.0', containerRuntimeVersion: 'docker://20.10.24' },
      addresses: [['Hostname', 'node-1'], ['InternalIP', '192.168.1.10'], ['InternalIP', '192.168.1.11']],
    }),
  );
  assert.deepEqual(r, {
    NAME: 'node-1',
    STATUS: 'Ready',
    ROLES: '<none>',
    AGE: '2d3h',
    VERSION: 'v1.32.1',
    'INTERNAL-IP': '192.168.1.10',
    'EXTERNAL-IP': '<none>',
    'OS-IMAGE': 'Debian GNU/Linux 12',
    'KERNEL-VERSION': '6.1.0',
    'CONTAINER-RUNTIME': 'docker://20.10.24',
  });
  const bare = row('Node', node('n', { ready: 'True' }));
  assert.equal(bare['OS-IMAGE'], '<unknown>');
  assert.equal(bare['KERNEL-VERSION'], '<unknown>');
  assert.equal(bare['CONTAINER-RUNTIME'], '<unknown>');
});

// ---------------------------------------------------------------- services

function svc(name: string, spec: Record<string, unknown>, status: Record<string, unknown> = {}): KObject {
  return { kind: 'Service', metadata: meta(name), spec, status };
}

test('service: ClusterIP with ports and selector', () => {
  const r = row(
    'Service',
    svc('web', {
      type: 'ClusterIP',
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ports: [{ port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }],
      selector: { tier: 'front', app: 'web' },
    }),
  );
  assert.deepEqual(r, {
    NAME: 'web',
    TYPE: 'ClusterIP',
    'CLUSTER-IP': '10.96.0.10',
    'EXTERNAL-IP': '<none>',
    'PORT(S)': '80/TCP,53/UDP',
    AGE: '5m',
    SELECTOR: 'app=web,tier=front',
  });
});

test('service: NodePort ports, defaults, externalIPs, no ports, no selector', () => {
  const np = row('Service', svc('np', { type: 'NodePort', clusterIP: '10.96.0.11', ports: [{ port: 80, nodePort: 30080 }], externalIPs: ['1.2.3.4', '5.6.7.8'] }));
  assert.equal(np['PORT(S)'], '80:30080/TCP');
  assert.equal(np['CLUSTER-IP'], '10.96.0.11');
  assert.equal(np['EXTERNAL-IP'], '1.2.3.4,5.6.7.8');
  const bare = row('Service', svc('bare', {}));
  assert.equal(bare.TYPE, 'ClusterIP');
  assert.equal(bare['CLUSTER-IP'], '<none>');
  assert.equal(bare['PORT(S)'], '<none>');
  assert.equal(bare.SELECTOR, '<none>');
  const headless = row('Service', svc('h', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ port: 5432, protocol: 'TCP' }] }));
  assert.equal(headless['CLUSTER-IP'], 'None');
});

test('service: LoadBalancer and ExternalName', () => {
  assert.equal(row('Service', svc('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.12', ports: [{ port: 443, nodePort: 31443, protocol: 'TCP' }] }))['EXTERNAL-IP'], '<pending>');
  const lb = row('Service', svc('lb', { type: 'LoadBalancer', externalIPs: ['9.9.9.9'] }, { loadBalancer: { ingress: [{ ip: '34.1.2.3' }, { hostname: 'lb.example.com' }] } }));
  assert.equal(lb['EXTERNAL-IP'], '34.1.2.3,lb.example.com,9.9.9.9');
  const en = row('Service', svc('ext', { type: 'ExternalName', externalName: 'db.example.com' }));
  assert.equal(en['EXTERNAL-IP'], 'db.example.com');
  assert.equal(en['CLUSTER-IP'], '<none>');
});

// ---------------------------------------------------------------- endpoints

function ep(name: string, subsets: unknown[]): KObject {
  return { kind: 'Endpoints', metadata: meta(name), subsets };
}
const addrs = (...ips: string[]) => ips.map((ip) => ({ ip }));

test('endpoints: formatting like kubectl', () => {
  const cases: [string, unknown[], string][] = [
    ['no subsets', [], '<none>'],
    ['only not-ready addresses', [{ notReadyAddresses: addrs('10.0.0.9'), ports: [{ port: 80 }] }], '<none>'],
    ['two', [{ addresses: addrs('10.0.0.1', '10.0.0.2'), ports: [{ port: 80 }] }], '10.0.0.1:80,10.0.0.2:80'],
    ['no ports (headless)', [{ addresses: addrs('10.0.0.1', '10.0.0.2') }], '10.0.0.1,10.0.0.2'],
    [
      'more than three',
      [{ addresses: addrs('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'), ports: [{ port: 80 }] }],
      '10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more...',
    ],
    [
      'two ports multiply',
      [{ addresses: addrs('10.0.0.1', '10.0.0.2'), ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }],
      '10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...',
    ],
    ['ipv6', [{ addresses: addrs('fd00::1'), ports: [{ port: 80 }] }], '[fd00::1]:80'],
  ];
  for (const [what, subsets, want] of cases) assert.equal(row('Endpoints', ep('svc', subsets)).ENDPOINTS, want, what);
  assert.equal(row('Endpoints', ep('svc', [])).NAME, 'svc');
  assert.equal(row('Endpoints', ep('svc', [])).AGE, '5m');
});

// ---------------------------------------------------------------- workloads

const template = (...containers: [string, string][]) => ({ spec: { containers: containers.map(([name, image]) => ({ name, image })) } });

test('replicationcontroller: cells and wide cells', () => {
  const rc: KObject = {
    kind: 'ReplicationController',
    metadata: meta('rc1'),
    spec: { replicas: 3, selector: { app: 'web' }, template: template(['web', 'nginx:1.27'], ['log', 'busybox']) },
    status: { replicas: 3, readyReplicas: 2 },
  };
  assert.deepEqual(row('ReplicationController', rc), {
    NAME: 'rc1',
    DESIRED: 3,
    CURRENT: 3,
    READY: 2,
    AGE: '5m',
    CONTAINERS: 'web,log',
    IMAGES: 'nginx:1.27,busybox',
    SELECTOR: 'app=web',
  });
  const fresh = row('ReplicationController', { kind: 'ReplicationController', metadata: meta('rc2'), spec: {} });
  assert.deepEqual([fresh.DESIRED, fresh.CURRENT, fresh.READY, fresh.SELECTOR], [1, 0, 0, '<none>']);
});

test('replicaset: cells with a label selector', () => {
  const rs: KObject = {
    kind: 'ReplicaSet',
    metadata: meta('web-5d4f'),
    spec: {
      replicas: 0,
      selector: {
        matchLabels: { app: 'web', 'pod-template-hash': '5d4f' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['prod', 'canary'] },
          { key: 'zone', operator: 'NotIn', values: ['b'] },
          { key: 'gpu', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      },
      template: template(['web', 'nginx']),
    },
    status: { replicas: 0 },
  };
  assert.deepEqual(row('ReplicaSet', rs), {
    NAME: 'web-5d4f',
    DESIRED: 0,
    CURRENT: 0,
    READY: 0,
    AGE: '5m',
    CONTAINERS: 'web',
    IMAGES: 'nginx',
    SELECTOR: 'app=web,env in (canary,prod),gpu,!legacy,pod-template-hash=5d4f,zone notin (b)',
  });
  const bad = row('ReplicaSet', { kind: 'ReplicaSet', metadata: meta('x'), spec: { selector: { matchExpressions: [{ key: 'a', operator: 'Near' }] } } });
  assert.equal(bad.SELECTOR, '<error>');
  const empty = row('ReplicaSet', { kind: 'ReplicaSet', metadata: meta('x'), spec: { selector: {} } });
  assert.equal(empty.SELECTOR, '<none>');
});

test('deployment: READY ready/desired, UP-TO-DATE, AVAILABLE, wide', () => {
  const d: KObject = {
    kind: 'Deployment',
    metadata: meta('web', { creationTimestamp: ago(3 * D) }),
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: template(['nginx', 'nginx:1.27']) },
    status: { replicas: 3, readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
  };
  assert.deepEqual(row('Deployment', d), {
    NAME: 'web',
    READY: '2/3',
    'UP-TO-DATE': 3,
    AVAILABLE: 2,
    AGE: '3d',
    CONTAINERS: 'nginx',
    IMAGES: 'nginx:1.27',
    SELECTOR: 'app=web',
  });
  const fresh = row('Deployment', { kind: 'Deployment', metadata: meta('new'), spec: {} });
  assert.deepEqual([fresh.READY, fresh['UP-TO-DATE'], fresh.AVAILABLE], ['0/1', 0, 0]);
  const scaledDown = row('Deployment', { kind: 'Deployment', metadata: meta('z'), spec: { replicas: 0 }, status: {} });
  assert.equal(scaledDown.READY, '0/0');
});

test('integer columns hold numbers, and protobuf int64 strings are read as numbers', () => {
  const d = row('Deployment', { kind: 'Deployment', metadata: meta('web'), spec: { replicas: '4' }, status: { readyReplicas: '4', updatedReplicas: '4', availableReplicas: '4' } });
  assert.deepEqual([d.READY, d['UP-TO-DATE'], d.AVAILABLE], ['4/4', 4, 4]);
});

// ---------------------------------------------------------------- events

function event(name: string, extra: Record<string, unknown>): KObject {
  return {
    kind: 'Event',
    metadata: meta(name),
    involvedObject: { kind: 'Pod', name: 'nginx', namespace: 'default', fieldPath: 'spec.containers{nginx}' },
    reason: 'Pulled',
    message: '  Container image "nginx" already present on machine\n',
    type: 'Normal',
    source: { component: 'kubelet', host: 'node-1' },
    ...extra,
  };
}

test('event: cells and wide cells', () => {
  const r = row('Event', event('nginx.17a', { firstTimestamp: ago(10 * M), lastTimestamp: ago(30 * S), count: 4 }));
  assert.deepEqual(r, {
    'LAST SEEN': '30s',
    TYPE: 'Normal',
    REASON: 'Pulled',
    OBJECT: 'pod/nginx',
    SUBOBJECT: 'spec.containers{nginx}',
    SOURCE: 'kubelet, node-1',
    MESSAGE: 'Container image "nginx" already present on machine',
    'FIRST SEEN': '10m',
    COUNT: 4,
    NAME: 'nginx.17a',
  });
});

test('event: new-style events (eventTime, series, reporting fields)', () => {
  const single = row('Event', event('e1', { eventTime: ago(45 * S), source: {}, reportingComponent: 'default-scheduler', reportingInstance: '' }));
  assert.equal(single['FIRST SEEN'], '45s');
  assert.equal(single['LAST SEEN'], '45s');
  assert.equal(single.COUNT, 1);
  assert.equal(single.SOURCE, 'default-scheduler');
  const series = row('Event', event('e2', { eventTime: ago(H), series: { count: 7, lastObservedTime: ago(2 * M) } }));
  assert.equal(series['LAST SEEN'], '2m');
  assert.equal(series['FIRST SEEN'], '60m');
  assert.equal(series.COUNT, 7);
  const noTimes = row('Event', event('e3', {}));
  assert.equal(noTimes['LAST SEEN'], '<unknown>');
});

test('event: OBJECT without a name is the lower-cased kind', () => {
  const r = row('Event', event('e', { involvedObject: { kind: 'Node' }, lastTimestamp: ago(S) }));
  assert.equal(r.OBJECT, 'node');
  assert.equal(r.SUBOBJECT, '');
});

// ---------------------------------------------------------------- namespaces, leases

test('namespace: STATUS from phase, Active by default', () => {
  const ns = (phase?: string): KObject => ({ kind: 'Namespace', metadata: { name: 'team-a', creationTimestamp: ago(400 * D) }, ...(phase ? { status: { phase } } : {}) });
  assert.deepEqual(row('Namespace', ns('Terminating')), { NAME: 'team-a', STATUS: 'Terminating', AGE: '400d' });
  assert.equal(row('Namespace', ns()).STATUS, 'Active');
});

test('lease: HOLDER', () => {
  const held = row('Lease', { kind: 'Lease', metadata: meta('kube-scheduler'), spec: { holderIdentity: 'node-1_abc', leaseDurationSeconds: 15 } });
  assert.deepEqual(held, { NAME: 'kube-scheduler', HOLDER: 'node-1_abc', AGE: '5m' });
  assert.equal(row('Lease', { kind: 'Lease', metadata: meta('free'), spec: {} }).HOLDER, '');
});

test('now defaults to the current time', () => {
  const t = toTable(res('Lease'), [{ metadata: { name: 'l', creationTimestamp: new Date(Date.now() - 7 * S).toISOString() } }], { resourceVersion: '1' });
  assert.match(String(t.rows[0]!.cells[2]), /^[78]s$/);
});
