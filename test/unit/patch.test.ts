import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PatchError,
  applyJsonPatch,
  applyMergePatch,
  applyPatch,
  applyStrategicMergePatch,
  mergeKeysFor,
  patchTypeFromContentType,
} from '../../services/apiserver/patch/index.js';

/** Deep-freezes a value so any mutation by the code under test throws. */
function frozen<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) frozen((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
}

function throwsPatchError(fn: () => unknown, code: 400 | 422, match: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PatchError, `expected PatchError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, match);
    return true;
  });
}

// ---------------------------------------------------------------------------------------
// Content types
// ---------------------------------------------------------------------------------------

test('patchTypeFromContentType maps the four patch media types', () => {
  const cases: Array<[string, string | undefined]> = [
    ['application/json-patch+json', 'json'],
    ['application/merge-patch+json', 'merge'],
    ['application/strategic-merge-patch+json', 'strategic'],
    ['application/apply-patch+yaml', 'apply'],
    ['application/merge-patch+json; charset=utf-8', 'merge'],
    ['Application/Strategic-Merge-Patch+JSON ;charset=UTF-8', 'strategic'],
    ['application/json', undefined],
    ['', undefined],
  ];
  for (const [ct, want] of cases) assert.equal(patchTypeFromContentType(ct), want, ct);
});

// ---------------------------------------------------------------------------------------
// JSON patch (RFC 6902)
// ---------------------------------------------------------------------------------------

const jsonOk: Array<{ name: string; doc: unknown; ops: unknown[]; want: unknown }> = [
  { name: 'add object member', doc: { foo: 'bar' }, ops: [{ op: 'add', path: '/baz', value: 'qux' }], want: { foo: 'bar', baz: 'qux' } },
  { name: 'add array element', doc: { foo: ['bar', 'baz'] }, ops: [{ op: 'add', path: '/foo/1', value: 'qux' }], want: { foo: ['bar', 'qux', 'baz'] } },
  { name: 'add at end of array index', doc: { a: [1] }, ops: [{ op: 'add', path: '/a/1', value: 2 }], want: { a: [1, 2] } },
  { name: 'add with - appends', doc: { a: [1, 2] }, ops: [{ op: 'add', path: '/a/-', value: 3 }], want: { a: [1, 2, 3] } },
  { name: 'add replaces existing member', doc: { a: 1 }, ops: [{ op: 'add', path: '/a', value: { b: null } }], want: { a: { b: null } } },
  { name: 'add root replaces document', doc: { a: 1 }, ops: [{ op: 'add', path: '', value: [1] }], want: [1] },
  { name: 'add null value', doc: {}, ops: [{ op: 'add', path: '/a', value: null }], want: { a: null } },
  { name: 'remove member', doc: { baz: 'qux', foo: 'bar' }, ops: [{ op: 'remove', path: '/baz' }], want: { foo: 'bar' } },
  { name: 'remove array element', doc: { foo: ['bar', 'qux', 'baz'] }, ops: [{ op: 'remove', path: '/foo/1' }], want: { foo: ['bar', 'baz'] } },
  { name: 'replace value', doc: { baz: 'qux', foo: 'bar' }, ops: [{ op: 'replace', path: '/baz', value: 'boo' }], want: { baz: 'boo', foo: 'bar' } },
  { name: 'replace array element', doc: { a: [1, 2] }, ops: [{ op: 'replace', path: '/a/0', value: 9 }], want: { a: [9, 2] } },
  {
    name: 'move member',
    doc: { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
    ops: [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
    want: { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
  },
  { name: 'move array element', doc: { foo: ['all', 'grass', 'cows', 'eat'] }, ops: [{ op: 'move', from: '/foo/1', path: '/foo/3' }], want: { foo: ['all', 'cows', 'eat', 'grass'] } },
  { name: 'copy member (deep)', doc: { a: { b: [1] } }, ops: [{ op: 'copy', from: '/a', path: '/c' }, { op: 'add', path: '/c/b/-', value: 2 }], want: { a: { b: [1] }, c: { b: [1, 2] } } },
  { name: 'test passes then replace', doc: { spec: { replicas: 3 } }, ops: [{ op: 'test', path: '/spec/replicas', value: 3 }, { op: 'replace', path: '/spec/replicas', value: 5 }], want: { spec: { replicas: 5 } } },
  { name: 'test objects ignore key order', doc: { a: { x: 1, y: [1, { z: 2 }] } }, ops: [{ op: 'test', path: '/a', value: { y: [1, { z: 2 }], x: 1 } }], want: { a: { x: 1, y: [1, { z: 2 }] } } },
  {
    name: 'pointer escapes ~1 and ~0',
    doc: { metadata: { labels: { 'app.kubernetes.io/name': 'x', 'a~b': 'y' } } },
    ops: [
      { op: 'replace', path: '/metadata/labels/app.kubernetes.io~1name', value: 'z' },
      { op: 'remove', path: '/metadata/labels/a~0b' },
      { op: 'add', path: '/metadata/labels/c~01', value: 'w' },
    ],
    want: { metadata: { labels: { 'app.kubernetes.io/name': 'z', 'c~1': 'w' } } },
  },
  { name: 'empty op list', doc: { a: 1 }, ops: [], want: { a: 1 } },
];

for (const c of jsonOk) {
  test(`json patch: ${c.name}`, () => {
    const doc = frozen(structuredClone(c.doc));
    const ops = frozen(structuredClone(c.ops));
    assert.deepEqual(applyJsonPatch(doc, ops), c.want);
    assert.deepEqual(doc, c.doc);
  });
}

const jsonErr: Array<{ name: string; doc: unknown; ops: unknown; code: 400 | 422; msg: RegExp }> = [
  { name: 'failing test', doc: { spec: { replicas: 3 } }, ops: [{ op: 'test', path: '/spec/replicas', value: 4 }], code: 422, msg: /test failed.*\/spec\/replicas is 3, expected 4/ },
  { name: 'test of missing path', doc: {}, ops: [{ op: 'test', path: '/a', value: 1 }], code: 422, msg: /\/a does not exist/ },
  { name: 'remove missing member', doc: { a: 1 }, ops: [{ op: 'remove', path: '/b' }], code: 422, msg: /operation 0 \(remove\).*\/b does not exist/ },
  { name: 'replace missing member', doc: { a: 1 }, ops: [{ op: 'replace', path: '/b', value: 1 }], code: 422, msg: /\/b does not exist/ },
  { name: 'add with missing parent', doc: { a: 1 }, ops: [{ op: 'add', path: '/x/y', value: 1 }], code: 422, msg: /\/x does not exist/ },
  { name: 'add past array end', doc: { a: [1] }, ops: [{ op: 'add', path: '/a/3', value: 1 }], code: 422, msg: /past the end/ },
  { name: 'leading-zero index', doc: { a: [1, 2] }, ops: [{ op: 'replace', path: '/a/01', value: 1 }], code: 422, msg: /does not exist/ },
  { name: '- outside add', doc: { a: [1] }, ops: [{ op: 'remove', path: '/a/-' }], code: 422, msg: /does not exist/ },
  { name: 'remove root', doc: { a: 1 }, ops: [{ op: 'remove', path: '' }], code: 422, msg: /whole document/ },
  { name: 'move into own child', doc: { a: { b: 1 } }, ops: [{ op: 'move', from: '/a', path: '/a/b/c' }], code: 422, msg: /own child/ },
  { name: 'move from missing', doc: { a: 1 }, ops: [{ op: 'move', from: '/b', path: '/c' }], code: 422, msg: /\/b does not exist/ },
  { name: 'path through a scalar', doc: { a: 1 }, ops: [{ op: 'add', path: '/a/b', value: 1 }], code: 422, msg: /not an object or array/ },
  { name: 'ops not a list', doc: {}, ops: { op: 'add' }, code: 400, msg: /list of operations/ },
  { name: 'unknown op', doc: {}, ops: [{ op: 'frobnicate', path: '/a' }], code: 400, msg: /"op" must be one of/ },
  { name: 'missing value', doc: {}, ops: [{ op: 'add', path: '/a' }], code: 400, msg: /"value" is required/ },
  { name: 'missing from', doc: { a: 1 }, ops: [{ op: 'copy', path: '/b' }], code: 400, msg: /"from" must be a string/ },
  { name: 'pointer without slash', doc: {}, ops: [{ op: 'add', path: 'a', value: 1 }], code: 400, msg: /not a JSON pointer/ },
  { name: 'bad ~ escape', doc: {}, ops: [{ op: 'add', path: '/a~2', value: 1 }], code: 400, msg: /bad escape/ },
];

for (const c of jsonErr) {
  test(`json patch error: ${c.name}`, () => {
    throwsPatchError(() => applyJsonPatch(frozen(structuredClone(c.doc)), c.ops), c.code, c.msg);
  });
}

test('json patch is atomic: a failing later op leaves the input untouched', () => {
  const doc = { a: 1, list: [1, 2] };
  assert.throws(() => applyJsonPatch(doc, [{ op: 'add', path: '/list/-', value: 3 }, { op: 'test', path: '/a', value: 2 }]), PatchError);
  assert.deepEqual(doc, { a: 1, list: [1, 2] });
});

test('json patch result does not alias the patch value', () => {
  const value = { x: [1] };
  const out = applyJsonPatch({}, [{ op: 'add', path: '/v', value }]) as { v: { x: number[] } };
  out.v.x.push(2);
  assert.deepEqual(value, { x: [1] });
});

// ---------------------------------------------------------------------------------------
// Merge patch (RFC 7386, Appendix A examples)
// ---------------------------------------------------------------------------------------

const rfc7386: Array<[unknown, unknown, unknown]> = [
  [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
  [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
  [{ a: 'b' }, { a: null }, {}],
  [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
  [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
  [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
  [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
  [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
  [['a', 'b'], ['c', 'd'], ['c', 'd']],
  [{ a: 'b' }, ['c'], ['c']],
  [{ a: 'foo' }, null, null],
  [{ a: 'foo' }, 'bar', 'bar'],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: 'b', c: null }, { a: 'b' }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

rfc7386.forEach(([doc, patch, want], i) => {
  test(`merge patch: RFC 7386 example ${i + 1}`, () => {
    const d = frozen(structuredClone(doc));
    const p = frozen(structuredClone(patch));
    assert.deepEqual(applyMergePatch(d, p), want);
    assert.deepEqual(d, doc);
  });
});

test('merge patch: kubectl label / scale shapes; lists are replaced', () => {
  const pod = frozen({
    metadata: { name: 'p', labels: { app: 'a', tier: 'web' } },
    spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }] }] },
  });
  const out = applyMergePatch(pod, { metadata: { labels: { tier: null, env: 'prod' } }, spec: { containers: [{ name: 'c', image: 'j' }] } });
  assert.deepEqual(out, {
    metadata: { name: 'p', labels: { app: 'a', env: 'prod' } },
    spec: { containers: [{ name: 'c', image: 'j' }] },
  });
});

// ---------------------------------------------------------------------------------------
// Strategic merge patch
// ---------------------------------------------------------------------------------------

function twoContainerPod() {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: 'u1', resourceVersion: '7', labels: { app: 'web' } },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'nginx:1.25',
          ports: [{ containerPort: 80, protocol: 'TCP' }],
          env: [
            { name: 'MODE', value: 'prod' },
            { name: 'DEBUG', value: 'true' },
          ],
        },
        {
          name: 'sidecar',
          image: 'busybox:1.36',
          command: ['sleep', 'infinity'],
          ports: [{ containerPort: 9090, name: 'metrics' }],
        },
      ],
      nodeName: 'node-1',
    },
    status: { phase: 'Running' },
  };
}

test('strategic: kubectl apply patch (image change + env removal) keeps ports, drops the env entry', () => {
  const live = frozen(twoContainerPod());
  // What kubectl 1.32 sends when last-applied had DEBUG and app image nginx:1.25, and the
  // new manifest changes the image to nginx:1.27 and drops DEBUG. Ports are unchanged in
  // the manifest, so they are not in the patch at all.
  const patch = frozen({
    metadata: {
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"v1","kind":"Pod"}\n' },
    },
    spec: {
      '$setElementOrder/containers': [{ name: 'app' }, { name: 'sidecar' }],
      containers: [
        {
          '$setElementOrder/env': [{ name: 'MODE' }],
          env: [{ $patch: 'delete', name: 'DEBUG' }],
          image: 'nginx:1.27',
          name: 'app',
        },
      ],
    },
  });
  const out = applyStrategicMergePatch(live, patch, 'Pod');
  const want = twoContainerPod();
  (want.metadata as Record<string, unknown>).annotations = {
    'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"v1","kind":"Pod"}\n',
  };
  want.spec.containers[0]!.image = 'nginx:1.27';
  want.spec.containers[0]!.env = [{ name: 'MODE', value: 'prod' }];
  assert.deepEqual(out, want);
  assert.deepEqual(live, twoContainerPod());

  // The same patch as an RFC 7386 merge patch loses the ports (why apply needs SMP).
  const merged = applyMergePatch(live, patch) as ReturnType<typeof twoContainerPod>;
  assert.equal(merged.spec.containers.length, 1);
  assert.equal(merged.spec.containers[0]!.ports, undefined);
});

test('strategic: same patch through applyPatch("strategic") on a Deployment pod template', () => {
  const pod = twoContainerPod();
  const deploy = frozen({
    kind: 'Deployment',
    metadata: { name: 'd' },
    spec: { replicas: 2, template: { metadata: { labels: { app: 'web' } }, spec: pod.spec } },
  });
  const patch = {
    spec: {
      template: {
        spec: {
          '$setElementOrder/containers': [{ name: 'app' }, { name: 'sidecar' }],
          containers: [{ '$setElementOrder/env': [{ name: 'MODE' }], env: [{ $patch: 'delete', name: 'DEBUG' }], image: 'nginx:1.27', name: 'app' }],
        },
      },
    },
  };
  const out = applyPatch('strategic', deploy, patch, 'Deployment') as { spec: { replicas: number; template: { spec: typeof pod.spec } } };
  assert.equal(out.spec.replicas, 2);
  const [app, sidecar] = out.spec.template.spec.containers;
  assert.equal(app!.image, 'nginx:1.27');
  assert.deepEqual(app!.ports, [{ containerPort: 80, protocol: 'TCP' }]);
  assert.deepEqual(app!.env, [{ name: 'MODE', value: 'prod' }]);
  assert.deepEqual(sidecar, pod.spec.containers[1]);
});

test('strategic: container ports merge by containerPort', () => {
  const live = frozen(twoContainerPod());
  const out = applyStrategicMergePatch(
    live,
    { spec: { containers: [{ name: 'app', ports: [{ containerPort: 80, name: 'http' }, { containerPort: 443, name: 'https' }] }] } },
    'Pod',
  ) as ReturnType<typeof twoContainerPod>;
  assert.deepEqual(out.spec.containers[0]!.ports, [
    { containerPort: 80, protocol: 'TCP', name: 'http' },
    { containerPort: 443, name: 'https' },
  ]);
  assert.equal(out.spec.containers[0]!.image, 'nginx:1.25');
  assert.equal(out.spec.containers.length, 2);
  assert.deepEqual(out.spec.containers[1], twoContainerPod().spec.containers[1]);
});

test('strategic: a new container is added without touching the others (Kubernetes order: new first)', () => {
  const out = applyStrategicMergePatch(frozen(twoContainerPod()), { spec: { containers: [{ name: 'log', image: 'fluentbit' }] } }, 'Pod') as ReturnType<
    typeof twoContainerPod
  >;
  assert.deepEqual(
    out.spec.containers.map((c) => c.name),
    ['log', 'app', 'sidecar'],
  );
  // With $setElementOrder the client decides.
  const ordered = applyStrategicMergePatch(
    twoContainerPod(),
    {
      spec: {
        '$setElementOrder/containers': [{ name: 'app' }, { name: 'sidecar' }, { name: 'log' }],
        containers: [{ name: 'log', image: 'fluentbit' }],
      },
    },
    'Pod',
  ) as ReturnType<typeof twoContainerPod>;
  assert.deepEqual(
    ordered.spec.containers.map((c) => c.name),
    ['app', 'sidecar', 'log'],
  );
});

test('strategic: $setElementOrder reorders a merged list', () => {
  const out = applyStrategicMergePatch(
    twoContainerPod(),
    { spec: { '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'app' }] } },
    'Pod',
  ) as ReturnType<typeof twoContainerPod>;
  assert.deepEqual(
    out.spec.containers.map((c) => c.name),
    ['sidecar', 'app'],
  );
  assert.equal(out.spec.containers[1]!.env!.length, 2);
});

test('strategic: volumeMounts by mountPath, volumes by name, env by name', () => {
  const live = frozen({
    spec: {
      containers: [{ name: 'c', volumeMounts: [{ name: 'a', mountPath: '/a' }, { name: 'b', mountPath: '/b' }] }],
      volumes: [{ name: 'a', emptyDir: {} }, { name: 'b', configMap: { name: 'cm' } }],
    },
  });
  const out = applyStrategicMergePatch(
    live,
    {
      spec: {
        containers: [{ name: 'c', volumeMounts: [{ mountPath: '/b', readOnly: true }] }],
        volumes: [{ name: 'b', configMap: { name: 'cm2' } }],
      },
    },
    'Pod',
  );
  assert.deepEqual(out, {
    spec: {
      containers: [{ name: 'c', volumeMounts: [{ name: 'a', mountPath: '/a' }, { name: 'b', mountPath: '/b', readOnly: true }] }],
      volumes: [{ name: 'a', emptyDir: {} }, { name: 'b', configMap: { name: 'cm2' } }],
    },
  });
});

test('strategic: $retainKeys drops live keys not listed (volume source and Deployment strategy)', () => {
  const live = frozen({
    spec: {
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        spec: {
          containers: [{ name: 'c' }],
          volumes: [{ name: 'data', emptyDir: {} }],
        },
      },
    },
  });
  const out = applyStrategicMergePatch(
    live,
    {
      spec: {
        strategy: { $retainKeys: ['type'], type: 'Recreate' },
        template: {
          spec: {
            volumes: [{ $retainKeys: ['hostPath', 'name'], name: 'data', hostPath: { path: '/data' } }],
          },
        },
      },
    },
    'Deployment',
  );
  assert.deepEqual(out, {
    spec: {
      strategy: { type: 'Recreate' },
      template: { spec: { containers: [{ name: 'c' }], volumes: [{ name: 'data', hostPath: { path: '/data' } }] } },
    },
  });
});

test('strategic: $retainKeys must list every patched field', () => {
  throwsPatchError(
    () => applyStrategicMergePatch({ spec: { strategy: { type: 'A' } } }, { spec: { strategy: { $retainKeys: ['type'], type: 'B', extra: 1 } } }, 'Deployment'),
    400,
    /\$retainKeys at "spec.strategy" does not list the patched field "extra"/,
  );
});

test('strategic: $deleteFromPrimitiveList removes scalars from finalizers; scalars merge as a set', () => {
  const live = frozen({ metadata: { name: 'x', finalizers: ['a.io/one', 'b.io/two', 'c.io/three'] } });
  const out = applyStrategicMergePatch(
    live,
    { metadata: { '$deleteFromPrimitiveList/finalizers': ['b.io/two'], finalizers: ['c.io/three', 'd.io/four'] } },
    'Namespace',
  );
  assert.deepEqual(out, { metadata: { name: 'x', finalizers: ['a.io/one', 'c.io/three', 'd.io/four'] } });
  assert.deepEqual(live.metadata.finalizers, ['a.io/one', 'b.io/two', 'c.io/three']);
});

test('strategic: $setElementOrder on a primitive list (node podCIDRs)', () => {
  const out = applyStrategicMergePatch(
    { spec: { podCIDRs: ['10.0.0.0/24', 'fd00::/64'] } },
    { spec: { '$setElementOrder/podCIDRs': ['fd00::/64', '10.0.0.0/24'] } },
    'Node',
  );
  assert.deepEqual(out, { spec: { podCIDRs: ['fd00::/64', '10.0.0.0/24'] } });
});

test('strategic: $patch: replace on a list replaces it', () => {
  const live = frozen(twoContainerPod());
  const out = applyStrategicMergePatch(
    live,
    { spec: { containers: [{ name: 'only', image: 'x' }, { $patch: 'replace' }] } },
    'Pod',
  ) as ReturnType<typeof twoContainerPod>;
  assert.deepEqual(out.spec.containers, [{ name: 'only', image: 'x' }]);
});

test('strategic: $patch: replace and delete in a map', () => {
  const live = frozen(twoContainerPod());
  const replaced = applyStrategicMergePatch(live, { metadata: { labels: { $patch: 'replace', new: 'yes' } } }, 'Pod') as ReturnType<
    typeof twoContainerPod
  >;
  assert.deepEqual(replaced.metadata.labels, { new: 'yes' });
  assert.equal(replaced.metadata.name, 'web');
  const deleted = applyStrategicMergePatch(live, { metadata: { labels: { $patch: 'delete' } } }, 'Pod') as ReturnType<typeof twoContainerPod>;
  assert.deepEqual(deleted.metadata.labels, {});
  const merged = applyStrategicMergePatch(live, { metadata: { labels: { $patch: 'merge', x: 'y' } } }, 'Pod') as ReturnType<typeof twoContainerPod>;
  assert.deepEqual(merged.metadata.labels, { app: 'web', x: 'y' });
});

test('strategic: null deletes a key; unmatched null is ignored', () => {
  const out = applyStrategicMergePatch(
    frozen(twoContainerPod()),
    { metadata: { labels: { app: null, gone: null } }, spec: { nodeName: null }, status: null },
    'Pod',
  ) as Record<string, any>;
  assert.deepEqual(out.metadata.labels, {});
  assert.equal('nodeName' in out.spec, false);
  assert.equal('status' in out, false);
  assert.equal(out.spec.containers.length, 2);
});

test('strategic: lists without a merge key are replaced (command, tolerations)', () => {
  const live = frozen({
    spec: {
      containers: [{ name: 'c', command: ['a', 'b'] }],
      tolerations: [
        { key: 'k', effect: 'NoSchedule', operator: 'Exists' },
        { key: 'k', effect: 'NoExecute', operator: 'Exists' },
      ],
    },
  });
  const out = applyStrategicMergePatch(
    live,
    { spec: { containers: [{ name: 'c', command: ['z'] }], tolerations: [{ key: 'k', effect: 'NoExecute', operator: 'Exists' }] } },
    'Pod',
  );
  assert.deepEqual(out, {
    spec: { containers: [{ name: 'c', command: ['z'] }], tolerations: [{ key: 'k', effect: 'NoExecute', operator: 'Exists' }] },
  });
});

test('strategic: Service spec.ports merge by port', () => {
  const live = frozen({
    kind: 'Service',
    spec: {
      selector: { app: 'web' },
      ports: [
        { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' },
        { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' },
      ],
    },
  });
  const out = applyStrategicMergePatch(live, { spec: { ports: [{ port: 443, targetPort: 9443 }, { port: 53, protocol: 'UDP' }] } }, 'Service') as {
    spec: { ports: Array<Record<string, unknown>> };
  };
  assert.deepEqual(
    out.spec.ports.map((p) => [p.port, p.targetPort]),
    [
      [80, 8080],
      [443, 9443],
      [53, undefined],
    ],
  );
  assert.deepEqual(out.spec.ports[1], { name: 'https', port: 443, targetPort: 9443, protocol: 'TCP' });
});

test('strategic: node conditions merge by type, cordon patch sets unschedulable', () => {
  const live = frozen({
    kind: 'Node',
    spec: { podCIDR: '10.0.0.0/24' },
    status: {
      conditions: [
        { type: 'Ready', status: 'True', reason: 'KubeletReady' },
        { type: 'MemoryPressure', status: 'False' },
      ],
      addresses: [
        { type: 'InternalIP', address: '10.1.1.1' },
        { type: 'Hostname', address: 'n1' },
      ],
    },
  });
  const cordoned = applyPatch('strategic', live, { spec: { unschedulable: true } }, 'Node') as Record<string, any>;
  assert.deepEqual(cordoned.spec, { podCIDR: '10.0.0.0/24', unschedulable: true });
  const out = applyStrategicMergePatch(
    live,
    { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'NodeStatusUnknown' }], addresses: [{ type: 'InternalIP', address: '10.1.1.2' }] } },
    'Node',
  ) as Record<string, any>;
  assert.deepEqual(out.status.conditions, [
    { type: 'Ready', status: 'False', reason: 'NodeStatusUnknown' },
    { type: 'MemoryPressure', status: 'False' },
  ]);
  assert.deepEqual(out.status.addresses, [
    { type: 'InternalIP', address: '10.1.1.2' },
    { type: 'Hostname', address: 'n1' },
  ]);
});

test('strategic: ownerReferences merge by uid', () => {
  const live = frozen({ metadata: { ownerReferences: [{ uid: 'a', kind: 'ReplicaSet', name: 'rs1' }] } });
  const out = applyStrategicMergePatch(live, { metadata: { ownerReferences: [{ uid: 'a', controller: true }, { uid: 'b', kind: 'X', name: 'x' }] } }, 'Pod');
  assert.deepEqual(out, {
    metadata: {
      ownerReferences: [
        { uid: 'a', kind: 'ReplicaSet', name: 'rs1', controller: true },
        { uid: 'b', kind: 'X', name: 'x' },
      ],
    },
  });
});

test('strategic: a merge key is inferred from $setElementOrder for a list missing from the table', () => {
  const live = frozen({ spec: { widgets: [{ id: 'a', v: 1 }, { id: 'b', v: 2 }] } });
  const out = applyStrategicMergePatch(
    live,
    { spec: { '$setElementOrder/widgets': [{ id: 'a' }, { id: 'b' }], widgets: [{ id: 'b', v: 3 }] } },
    'SomethingElse',
  );
  assert.deepEqual(out, { spec: { widgets: [{ id: 'a', v: 1 }, { id: 'b', v: 3 }] } });
});

test('strategic: directives inside new values are processed, not stored', () => {
  const out = applyStrategicMergePatch(
    { metadata: { name: 'p' } },
    { spec: { containers: [{ name: 'c', '$setElementOrder/env': [{ name: 'A' }], env: [{ name: 'A', value: '1' }], x: null }] } },
    'Pod',
  );
  assert.deepEqual(out, { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', env: [{ name: 'A', value: '1' }] }] } });
});

test('strategic: errors are PatchErrors a user can act on', () => {
  throwsPatchError(() => applyStrategicMergePatch({}, [1], 'Pod'), 400, /must be a JSON object/);
  throwsPatchError(
    () => applyStrategicMergePatch(twoContainerPod(), { spec: { containers: [{ image: 'x' }] } }, 'Pod'),
    400,
    /lacks the merge key "name"/,
  );
  throwsPatchError(
    () => applyStrategicMergePatch(twoContainerPod(), { spec: { containers: [{ $patch: 'delete', image: 'x' }] } }, 'Pod'),
    400,
    /"\$patch: delete" element .* lacks the merge key "name"/,
  );
  throwsPatchError(() => applyStrategicMergePatch({ metadata: {} }, { metadata: { $patch: 'explode' } }, 'Pod'), 400, /unknown \$patch directive "explode"/);
  throwsPatchError(() => applyStrategicMergePatch({ spec: {} }, { spec: { containers: ['x'] } }, 'Pod'), 400, /merges objects by "name"/);
});

test('strategic: inputs are not modified and the result shares no objects with them', () => {
  const live = twoContainerPod();
  const patch = {
    spec: {
      containers: [{ name: 'app', ports: [{ containerPort: 81 }], env: [{ $patch: 'delete', name: 'DEBUG' }] }],
      volumes: [{ name: 'v', emptyDir: {} }],
    },
  };
  const liveCopy = structuredClone(live);
  const patchCopy = structuredClone(patch);
  const out = applyStrategicMergePatch(live, patch, 'Pod') as ReturnType<typeof twoContainerPod> & { spec: { volumes: Array<any> } };
  assert.deepEqual(live, liveCopy);
  assert.deepEqual(patch, patchCopy);
  out.spec.containers[1]!.command!.push('mutated');
  out.spec.volumes[0].emptyDir.medium = 'Memory';
  (out.metadata.labels as Record<string, string>).x = 'y';
  assert.deepEqual(live, liveCopy);
  assert.deepEqual(patch, patchCopy);
});

// ---------------------------------------------------------------------------------------
// Server-side apply (simplified) and dispatch
// ---------------------------------------------------------------------------------------

test('apply: applied object is strategic-merged into the live one; create from nothing', () => {
  const live = frozen(twoContainerPod());
  const applied = frozen({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', labels: { team: 'a' } },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
  });
  const out = applyPatch('apply', live, applied, 'Pod') as ReturnType<typeof twoContainerPod>;
  assert.equal(out.spec.containers[0]!.image, 'nginx:1.27');
  assert.deepEqual(out.spec.containers[0]!.ports, [{ containerPort: 80, protocol: 'TCP' }]);
  assert.equal(out.spec.containers.length, 2);
  assert.deepEqual(out.metadata.labels, { app: 'web', team: 'a' });
  assert.equal(out.metadata.resourceVersion, '7');
  assert.deepEqual(applyPatch('apply', undefined, applied, 'Pod'), applied);
  throwsPatchError(() => applyPatch('apply', live, 'nope', 'Pod'), 400, /must be an object/);
});

test('applyPatch dispatches json and merge', () => {
  assert.deepEqual(applyPatch('json', { a: 1 }, [{ op: 'replace', path: '/a', value: 2 }], 'Pod'), { a: 2 });
  assert.deepEqual(applyPatch('merge', { a: 1, b: [1] }, { b: [2] }, 'Pod'), { a: 1, b: [2] });
});

test('merge-key table: pod template paths for controllers, tolerations atomic', () => {
  for (const kind of ['ReplicationController', 'ReplicaSet', 'Deployment']) {
    const rules = mergeKeysFor(kind);
    assert.equal(rules.get('spec.template.spec.containers'), 'name', kind);
    assert.equal(rules.get('spec.template.spec.containers.ports'), 'containerPort', kind);
    assert.equal(rules.get('spec.template.spec.initContainers.env'), 'name', kind);
    assert.equal(rules.get('status.conditions'), 'type', kind);
  }
  assert.equal(mergeKeysFor('pod').get('spec.volumes'), 'name');
  assert.equal(mergeKeysFor('Pod').has('spec.tolerations'), false);
  assert.equal(mergeKeysFor('Service').get('spec.ports'), 'port');
  assert.equal(mergeKeysFor('Lease').get('metadata.finalizers'), null);
});
