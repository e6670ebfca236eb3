/**
 * The kubelet with the real Docker engine: a busybox pod runs in labelled
 * containers and reports Running with its pod IP; a kubelet killed and started
 * again adopts the container without restarting it; a container without
 * Keelson's labels is never touched; a deletion removes the containers within
 * the grace period and then the pod. A startup probe holds `started` and Ready
 * back until it passes, and one that never passes gets the container restarted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import type { KObject } from '../../services/lib/api/resources.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { isNotFound } from '../../services/lib/errors/index.js';
import { startKubelet, type Kubelet } from '../../services/kubelet/index.js';
import { DockerRuntime, Labels } from '../../services/kubelet/runtime/index.js';
import { eventually } from '../harness/wait.js';
import { startTestNats, type TestNats } from '../harness/nats.js';

const NODE = 'docker-node';
const BUCKET = 'kubelet-docker';

type ContainerStatusView = {
  ready: boolean;
  started?: boolean;
  restartCount: number;
  containerID?: string;
  state: { running?: { startedAt?: string }; waiting?: { reason?: string }; terminated?: { exitCode?: number } };
  lastState: { terminated?: { exitCode?: number; reason?: string } };
};
type PodView = KObject & {
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: ContainerStatusView[] };
};
/** Short, so a restart is seen within seconds (Kubernetes waits 10 s, then 20 s, …). */
const CRASH_BACK_OFF = { initialMs: 1_000, maxMs: 4_000 };


describe('kubelet on the docker runtime', () => {
  let nats: TestNats;
  let api: ApiServer;
  let client: KeelsonClient;
  let runtime: DockerRuntime;
  let kubelet: Kubelet;
  let dataDir: string;
  const docker = new Docker();
  let foreignId = '';

  const startNode = async () => {
    runtime = await DockerRuntime.connect({ dataDir, network: 'keelson-test', nodeName: NODE });
    kubelet = await startKubelet({ nats: nats.urls, nodeName: NODE, runtime, heartbeatMs: 500, bucket: BUCKET, crashBackOff: CRASH_BACK_OFF });
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keelson-kubelet-docker-'));
    nats = await startTestNats({ after: () => undefined }, 'single');
    api = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0, bucket: BUCKET });
    client = await KeelsonClient.connect(nats.urls, 'kubelet-docker-test', { bucket: BUCKET });
    // Someone else's container on the same engine, with a Keelson-like name but no labels.
    const foreign = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '3600'], name: `k8s_foreign_${Date.now()}` });
    await foreign.start();
    foreignId = foreign.id;
    await startNode();
  });
  after(async () => {
    await kubelet?.stop().catch(() => undefined);
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${Labels.namespace}=kd-test`] } })) {
      await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    if (foreignId) await docker.getContainer(foreignId).remove({ force: true }).catch(() => undefined);
    await runtime?.close().catch(() => undefined);
    await docker.getNetwork('keelson-test').remove().catch(() => undefined);
    await client?.close();
    await api?.stop();
    await nats?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const get = (name: string) => client.get('pods', 'kd-test', name) as Promise<PodView>;

  test('a busybox pod runs in labelled containers; restart adopts; delete cleans up', async () => {
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kd-test' } });
    await client.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'sleeper', namespace: 'kd-test' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 2,
        containers: [{ name: 'main', image: 'busybox', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }],
      },
    });
    const running = await eventually('Running', () => get('sleeper'), (p) => p.status?.phase === 'Running' && !!p.status.containerStatuses?.[0]?.ready);
    assert.match(running.status!.podIP ?? '', /^\d+\.\d+\.\d+\.\d+$/);
    const uid = running.metadata!.uid!;
    const containers = await docker.listContainers({ filters: { label: [`${Labels.podUid}=${uid}`] } });
    assert.equal(containers.length, 2, 'sandbox + main');
    for (const c of containers) {
      assert.equal(c.Labels[Labels.podName], 'sleeper');
      assert.equal(c.Labels[Labels.namespace], 'kd-test');
      assert.ok(c.Labels[Labels.container]);
    }
    const mainId = containers.find((c) => c.Labels[Labels.container] === 'main')!.Id;

    // The kubelet goes away (as after kill -9 its actors are simply gone) and comes back.
    await kubelet.stop();
    await runtime.close();
    await startNode();
    await new Promise((r) => setTimeout(r, 1_000));
    const again = await docker.getContainer(mainId).inspect();
    assert.equal(again.State.Running, true, 'not restarted');
    assert.equal((await get('sleeper')).status!.containerStatuses![0]!.restartCount, 0);

    const t0 = Date.now();
    await client.delete('pods', 'kd-test', 'sleeper');
    await eventually('pod removed', () => get('sleeper').then(() => false).catch((e) => (isNotFound(e) ? true : Promise.reject(e))), (gone) => gone);
    assert.ok(Date.now() - t0 < 10_000, `deleted within the grace period (+ margin), took ${Date.now() - t0} ms`);
    assert.equal((await docker.listContainers({ all: true, filters: { label: [`${Labels.podUid}=${uid}`] } })).length, 0, 'containers removed');
    assert.equal((await docker.getContainer(foreignId).inspect()).State.Running, true, 'foreign container untouched');
  });

  test('kubectl logs through the API: whole, --tail, -c checks, --previous, -f', async () => {
    await client.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'talker', namespace: 'kd-test' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'main', image: 'busybox', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'echo one; echo two; echo three; sleep 3600'] }],
      },
    });
    await eventually('talker Running', () => get('talker'), (p) => p.status?.phase === 'Running');
    const log = (q = '') => fetch(`${api.url}/api/v1/namespaces/kd-test/pods/talker/log${q}`);
    const all = await eventually('three lines', () => log().then((r) => r.text()), (t) => t === 'one\ntwo\nthree\n');
    assert.equal(all, 'one\ntwo\nthree\n');
    assert.equal(await (await log('?tailLines=1')).text(), 'three\n');
    const bad = await log('?container=nope');
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /container nope is not valid for pod talker/);
    const prev = await log('?previous=true');
    assert.equal(prev.status, 400);
    // Following: the stream stays open; what is there arrives, and closing it is fine.
    const ctl = new AbortController();
    const follow = await fetch(`${api.url}/api/v1/namespaces/kd-test/pods/talker/log?follow=true`, { signal: ctl.signal });
    const reader = follow.body!.getReader();
    const { value } = await reader.read();
    assert.match(Buffer.from(value!).toString(), /one/);
    ctl.abort();
    await client.delete('pods', 'kd-test', 'talker', { gracePeriodSeconds: 0 });
  });

  test('a readiness probe turns Ready on, and off when it starts failing', async () => {
    await client.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'probed', namespace: 'kd-test' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'web',
            image: 'busybox',
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www'],
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/index.html', port: 'http' }, periodSeconds: 1, failureThreshold: 1 },
          },
        ],
      },
    });
    const ready = (p: PodView) => p.status?.containerStatuses?.[0]?.ready === true;
    const p = await eventually('Ready', () => get('probed'), ready);
    const id = p.status!.containerStatuses![0]!.containerID!.replace(/^docker:\/\//, '');
    const exec = await docker.getContainer(id).exec({ Cmd: ['rm', '/www/index.html'] });
    await exec.start({});
    const unready = await eventually('not Ready', () => get('probed'), (p) => p.status?.containerStatuses?.[0]?.ready === false);
    assert.equal(unready.status!.phase, 'Running', 'still running, just not ready');
    await client.delete('pods', 'kd-test', 'probed', { gracePeriodSeconds: 0 });
  });
  test('a startup probe keeps started and Ready false until it passes', async () => {
    await client.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'slow-start', namespace: 'kd-test' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: 'busybox',
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', 'sleep 2; touch /tmp/started; exec sleep 3600'],
            startupProbe: { exec: { command: ['cat', '/tmp/started'] }, periodSeconds: 1, failureThreshold: 10 },
          },
        ],
      },
    });
    const main = (p: PodView) => p.status?.containerStatuses?.[0];
    const starting = await eventually('running, not started', () => get('slow-start'), (p) => !!main(p)?.state.running);
    assert.equal(main(starting)!.started, false);
    assert.equal(main(starting)!.ready, false);
    assert.equal(starting.status!.conditions!.find((c) => c.type === 'Ready')?.status, 'False');
    // The probe cannot pass before the file is there: ~2 s after the start.
    const startedAt = Date.parse(main(starting)!.state.running!.startedAt!);
    const started = await eventually('started', () => get('slow-start'), (p) => main(p)?.started === true && main(p)!.ready, 10_000);
    assert.ok(Date.now() - startedAt >= 1_500, `started only after the file appeared, took ${Date.now() - startedAt} ms`);
    assert.equal(started.status!.conditions!.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(main(started)!.restartCount, 0, 'a probe that passes in time kills nothing');
    assert.equal(main(started)!.containerID, main(starting)!.containerID, 'the same instance');
    await client.delete('pods', 'kd-test', 'slow-start', { gracePeriodSeconds: 0 });
  });

  test('a startup probe that never passes gets the container restarted', async () => {
    await client.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'never-starts', namespace: 'kd-test' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: 'busybox',
            imagePullPolicy: 'IfNotPresent',
            command: ['sleep', '3600'],
            startupProbe: { exec: { command: ['cat', '/tmp/started'] }, periodSeconds: 1, failureThreshold: 2 },
          },
        ],
      },
    });
    const main = (p: PodView) => p.status?.containerStatuses?.[0];
    const seen = new Set<boolean | undefined>();
    const restarted = await eventually(
      'restarted twice',
      async () => {
        const p = await get('never-starts');
        seen.add(main(p)?.started);
        return p;
      },
      (p) => { console.error(JSON.stringify(p.status)); return (main(p)?.restartCount ?? 0) >= 2; },
      20_000,
    );
    assert.deepEqual([...seen].filter((s) => s !== undefined), [false], 'never started');
    // sleep as PID 1 ignores SIGTERM: the kill ends with SIGKILL after the 1 s grace.
    assert.equal(main(restarted)!.lastState.terminated?.exitCode, 137);
    const uid = restarted.metadata!.uid!;
    const instances = await docker.listContainers({ all: true, filters: { label: [`${Labels.podUid}=${uid}`, `${Labels.container}=main`] } });
    assert.ok(instances.length >= 2, `one container per instance, got ${instances.length}`);
    await client.delete('pods', 'kd-test', 'never-starts', { gracePeriodSeconds: 0 });
  });
});
