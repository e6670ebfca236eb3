/** Pure parts of the runtimes: spec translation, volumes, image names, CRI log lines. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseCriLine, rfc3339Nano } from './cri-log.js';
import { toRuntimeEvent } from './docker-events.js';
import { containerCreateOptions, sandboxCreateOptions } from './docker-spec.js';
import { FrameParser } from './docker-streams.js';
import { identityLabels, Labels, managedFilter } from './labels.js';
import { defaultPullPolicy, normalizeImage, type Container, type Pod } from './pod-spec.js';
import { isRuntimeError } from './types.js';
import { resolveMounts } from './volumes.js';

function pod(containers: Container[], extra: Partial<Pod['spec']> = {}): Pod {
  return { metadata: { name: 'web', namespace: 'prod', uid: 'abcd1234-ffff' }, spec: { containers, ...extra } };
}
const input = { name: 'k8s_c_web_prod_abcd1234_0', attempt: 0, sandboxId: 'sb1', mounts: [] };

test('command replaces ENTRYPOINT, args replace CMD', () => {
  const both = containerCreateOptions(pod([]), { name: 'c', image: 'busybox', command: ['sh', '-c'], args: ['echo hi'] }, input);
  assert.deepEqual([both.Entrypoint, both.Cmd, both.Image], [['sh', '-c'], ['echo hi'], 'busybox:latest']);
  const argsOnly = containerCreateOptions(pod([]), { name: 'c', image: 'busybox:1.36', args: ['x'] }, input);
  assert.deepEqual([argsOnly.Entrypoint, argsOnly.Cmd], [undefined, ['x']]);
  const none = containerCreateOptions(pod([]), { name: 'c', image: 'busybox' }, input);
  assert.deepEqual([none.Entrypoint, none.Cmd], [undefined, undefined]);
});

test('env, workingDir, tty, labels, namespaces and limits', () => {
  const notes: string[] = [];
  const c: Container = {
    name: 'c',
    image: 'img:1',
    env: [{ name: 'A', value: '1' }, { name: 'EMPTY' }, { name: 'REF', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
    workingDir: '/app',
    tty: true,
    stdin: true,
    ports: [{ containerPort: 80 }],
    resources: { limits: { memory: '1Gi', cpu: '1.5' }, requests: { cpu: '250m' } },
  };
  const o = containerCreateOptions(pod([c]), c, { ...input, note: (m) => notes.push(m) });
  assert.deepEqual(o.Env, ['A=1', 'EMPTY=']);
  assert.match(notes[0]!, /REF uses valueFrom/);
  assert.deepEqual([o.WorkingDir, o.Tty, o.OpenStdin], ['/app', true, true]);
  assert.equal(o.Labels!['io.keelson.pod-uid'], 'abcd1234-ffff');
  assert.equal(o.Labels!['io.keelson.container'], 'c');
  assert.equal(o.Labels!['io.keelson.ports'], '[{"containerPort":80}]');
  assert.deepEqual(
    [o.HostConfig!.NetworkMode, o.HostConfig!.IpcMode, o.HostConfig!.Memory, o.HostConfig!.NanoCpus, o.HostConfig!.CpuShares],
    ['container:sb1', 'container:sb1', 1024 ** 3, 1_500_000_000, 256],
  );
  assert.throws(
    () => containerCreateOptions(pod([]), { name: 'c', image: 'x', resources: { limits: { memory: 'lots' } } }, input),
    (e) => isRuntimeError(e, 'CreateContainerConfigError'),
  );
});

test('the sandbox exposes every port and publishes hostPorts', () => {
  const p = pod([
    { name: 'a', image: 'x', ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 53, protocol: 'UDP' }] },
    { name: 'b', image: 'x', ports: [{ containerPort: 9090 }] },
  ]);
  const o = sandboxCreateOptions(p, { image: 'busybox:latest', network: 'keelson', name: 'sb', attempt: 0 });
  assert.deepEqual(Object.keys(o.ExposedPorts!).sort(), ['53/udp', '80/tcp', '9090/tcp']);
  assert.deepEqual(o.HostConfig!.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
  assert.deepEqual([o.Hostname, o.Labels!['io.keelson.container'], o.HostConfig!.NetworkMode], ['web', 'POD', 'keelson']);
});

test('volume mounts: emptyDir per pod, hostPath types, subPath, errors', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-volumes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const host = join(dir, 'host');
  const p = pod([], {
    volumes: [
      { name: 'cache', emptyDir: {} },
      { name: 'h', hostPath: { path: host, type: 'DirectoryOrCreate' } },
      { name: 'cfg', configMap: { name: 'x' } },
    ],
  });
  const mounts = resolveMounts(dir, p, {
    name: 'c',
    volumeMounts: [
      { name: 'cache', mountPath: '/cache', subPath: 'a/b' },
      { name: 'h', mountPath: '/h', readOnly: true },
    ],
  });
  assert.deepEqual(mounts, [
    { source: join(dir, 'pods', 'abcd1234-ffff', 'volumes', 'empty-dir', 'cache', 'a/b'), target: '/cache', readOnly: false },
    { source: host, target: '/h', readOnly: true },
  ]);
  assert.ok(existsSync(mounts[0]!.source) && existsSync(host));
  const bad = (volumeMounts: Container['volumeMounts']) => () => resolveMounts(dir, p, { name: 'c', volumeMounts });
  const configError = (e: unknown) => isRuntimeError(e, 'CreateContainerConfigError');
  assert.throws(bad([{ name: 'nope', mountPath: '/x' }]), configError);
  assert.throws(bad([{ name: 'cache', mountPath: '/x', subPath: '../escape' }]), configError);
  assert.throws(bad([{ name: 'cfg', mountPath: '/x' }]), (e) => configError(e) && /configMap is not supported/.test((e as Error).message));
  const missing = pod([], { volumes: [{ name: 'f', hostPath: { path: join(dir, 'absent'), type: 'File' } }] });
  assert.throws(() => resolveMounts(dir, missing, { name: 'c', volumeMounts: [{ name: 'f', mountPath: '/f' }] }), configError);
});

test('node scope: created containers carry the node label; filters and events keep to it', () => {
  const p = pod([{ name: 'c', image: 'x' }]);
  const sb = sandboxCreateOptions(p, { image: 'busybox:latest', network: 'keelson', name: 'sb', attempt: 0, node: 'node-a' });
  const c = containerCreateOptions(p, p.spec.containers[0]!, { ...input, node: 'node-a' });
  assert.deepEqual([sb.Labels![Labels.node], c.Labels![Labels.node]], ['node-a', 'node-a']);
  assert.equal(containerCreateOptions(p, p.spec.containers[0]!, input).Labels![Labels.node], undefined);
  assert.deepEqual(managedFilter('node-a').at(-1), 'io.keelson.node=node-a');
  assert.equal(managedFilter(undefined).length, 4);

  const event = (labels: Record<string, string>) => ({ Type: 'container', Action: 'die', Actor: { ID: 'id1', Attributes: { ...labels, exitCode: '3' } }, time: 1 });
  const mine = event({ ...identityLabels(p, 'c'), [Labels.node]: 'node-a' });
  const theirs = event({ ...identityLabels(p, 'c'), [Labels.node]: 'node-b' });
  assert.equal(toRuntimeEvent(mine, 'node-a')?.exitCode, 3);
  assert.equal(toRuntimeEvent(theirs, 'node-a'), undefined);
  assert.equal(toRuntimeEvent(event(identityLabels(p, 'c')), 'node-a'), undefined);
  assert.equal(toRuntimeEvent(theirs)?.type, 'exited'); // an unscoped runtime hears every node
});

test('image names and default pull policies', () => {
  assert.equal(normalizeImage('busybox'), 'busybox:latest');
  assert.equal(normalizeImage('localhost:5000/app'), 'localhost:5000/app:latest');
  assert.equal(normalizeImage('localhost:5000/app:1'), 'localhost:5000/app:1');
  assert.equal(normalizeImage('app@sha256:abc'), 'app@sha256:abc');
  assert.equal(defaultPullPolicy('busybox'), 'Always');
  assert.equal(defaultPullPolicy('nats:2.9.10'), 'IfNotPresent');
});

test('CRI log lines and Docker stream frames', () => {
  assert.match(rfc3339Nano(Date.UTC(2024, 0, 2, 3, 4, 5, 678) + 0.5), /^2024-01-02T03:04:05\.678500000Z$/);
  assert.deepEqual(parseCriLine('2024-01-02T03:04:05.000000001Z stderr P  two spaces'), {
    time: '2024-01-02T03:04:05.000000001Z',
    stream: 'stderr',
    partial: true,
    text: ' two spaces',
  });
  assert.equal(parseCriLine('garbage'), undefined);

  const frames: [number, string][] = [];
  const parser = new FrameParser((type, payload) => frames.push([type, payload.toString()]));
  const frame = (type: number, text: string) => Buffer.concat([Buffer.from([type, 0, 0, 0, 0, 0, 0, text.length]), Buffer.from(text)]);
  const all = Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n'), frame(1, 'more\n')]);
  parser.push(all.subarray(0, 5)); // split inside a header
  parser.push(all.subarray(5, 14)); // and inside a payload
  parser.push(all.subarray(14));
  assert.deepEqual(frames, [
    [1, 'out\n'],
    [2, 'err\n'],
    [1, 'more\n'],
  ]);
});
