/**
 * Services end to end with the real Docker engine: a `keelson up` control plane
 * (scheduler, controller-manager with its Endpoints controller), one kubelet on
 * the docker runtime, and the proxy in user-space mode with node ports on
 * 127.0.0.1 — and, as root, cluster IPs made local on an interface of the
 * test's own, so that pods reach Services by their environment variables.
 * Backends are busybox httpd pods answering their own name; UDP is a small
 * node:20 echo pod.
 *
 * Traffic goes only to 127.0.0.1, to pod IPs on the test's Docker network, and
 * to cluster IPs once they are checked to be local addresses.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { startKubelet, type Kubelet } from '../../services/kubelet/index.js';
import { DockerRuntime, Labels } from '../../services/kubelet/runtime/index.js';
import type { KObject } from '../../services/lib/api/resources.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { startNodeProxy, type NodeProxy } from '../../services/proxy/node-proxy.js';
import { eventually as waitEventually } from '../harness/wait.js';
import { startCluster, type TestCluster } from './kubectl.js';

const NS = 'e2e-svc';
const NODE = 'e2e-svc-node';
const NETWORK = 'keelson-e2e-svc';
const IFACE = `ksvc${process.pid % 100000}`;
const ROOT = process.getuid?.() === 0;
type Obj = Record<string, any>;

/** An httpd pod template answering its own name on 8080, ready while /www/ready exists. */
const WEB_TEMPLATE = {
  metadata: { labels: { app: 'web' } },
  spec: {
    terminationGracePeriodSeconds: 1,
    containers: [
      {
        name: 'httpd',
        image: 'busybox:latest',
        imagePullPolicy: 'IfNotPresent',
        command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && touch /www/ready && exec httpd -f -p 8080 -h /www'],
        ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 2 },
      },
    ],
  },
};

const UDP_ECHO = `const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(Buffer.concat([Buffer.from(require('os').hostname()+':'),m]),r.port,r.address));s.bind(5353)`;

/** busybox's wget segfaults in this image; nc speaks the HTTP/1.0 request itself. */
const ASK_WEB = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 5 "$WEB_SERVICE_HOST" "$WEB_SERVICE_PORT"';

/** A busybox pod that runs `script` once: it finds the web Service by its environment variables. */
function callerPod(name: string, script: string): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'main', image: 'busybox:latest', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script] }],
    },
  };
}

function httpGet(port: number, host = '127.0.0.1', timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${host}:${port} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function udpAsk(port: number, message: string, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no UDP answer on 127.0.0.1:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m.toString());
    });
    s.send(message, port, '127.0.0.1');
  });
}

/** The harness's eventually, a minute by default, with any failure (a pod not started yet, a UDP answer not there yet) counting as "not yet". */
const eventually = <T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 60_000) => waitEventually(what, get, ok, ms, { retryOn: () => true });

describe('Services through the proxy, with a docker node', () => {
  let c: TestCluster;
  let client: KeelsonClient;
  let runtime: DockerRuntime | undefined;
  let kubelet: Kubelet | undefined;
  let proxy: NodeProxy | undefined;
  const docker = new Docker();

  const startProxy = () => startNodeProxy({ client, mode: 'userspace', bindAddress: '127.0.0.1', clusterIPs: ROOT, interfaceName: IFACE });
  const endpointIPs = (name: string) => proxy!.current().find((p) => p.namespace === NS && p.name === name)?.endpoints.map((e) => e.ip) ?? [];
  const endpointsOf = (name: string) => endpointIPs(name).length;
  const service = async (name: string) => (await client.get('services', NS, name)) as Obj;

  before(async () => {
    c = await startCluster();
    client = await KeelsonClient.connect(c.admin, 'e2e-services');
    const dataDir = join(c.dir, 'node');
    mkdirSync(dataDir);
    runtime = await DockerRuntime.connect({ dataDir, network: NETWORK, nodeName: NODE });
    kubelet = await startKubelet({ nats: await c.node(NODE), nodeName: NODE, runtime, heartbeatMs: 500 });
    proxy = await startProxy();
    await c.ok(['create', 'namespace', NS]);
    await client.create({ apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'web', namespace: NS }, spec: { replicas: 3, selector: { app: 'web' }, template: WEB_TEMPLATE } });
    await client.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: NS },
      spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    });
    await eventually('3 ready endpoints in the proxy', async () => endpointsOf('web'), (n) => n === 3, 90_000);
  });
  after(async () => {
    await proxy?.stop().catch(() => undefined);
    await kubelet?.stop().catch(() => undefined);
    for (const x of await docker.listContainers({ all: true, filters: { label: [`${Labels.namespace}=${NS}`] } })) {
      await docker.getContainer(x.Id).remove({ force: true }).catch(() => undefined);
    }
    await runtime?.close().catch(() => undefined);
    await docker.getNetwork(NETWORK).remove().catch(() => undefined);
    if (ROOT) {
      try {
        execFileSync('ip', ['link', 'del', IFACE], { stdio: 'ignore' });
      } catch {
        // already gone: the proxy removed it
      }
    }
    await client?.close().catch(() => undefined);
    await c?.stop();
  });

  test('a NodePort Service answers on 127.0.0.1:nodePort and spreads 6 requests round robin over the 3 pods', async () => {
    const svc = await service('web');
    const nodePort = svc.spec.ports[0].nodePort as number;
    assert.ok(nodePort >= 30000 && nodePort <= 32767, `nodePort ${nodePort}`);
    assert.match(svc.spec.clusterIP, /^10\.96\.\d+\.\d+$/);
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) answers.push(await httpGet(nodePort));
    const counts = new Map<string, number>();
    for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
    assert.equal(counts.size, 3, `answers: ${answers.join(', ')}`);
    assert.deepEqual([...counts.values()], [2, 2, 2], `answers: ${answers.join(', ')}`);
  });

  test('a pod whose readiness fails gets no traffic, and gets it back when ready again', async (t) => {
    const nodePort = (await service('web')).spec.ports[0].nodePort as number;
    const pods = (await client.list('pods', NS, { labelSelector: 'app=web' })).items;
    const victim = pods[0]!.metadata!.name!;
    const victimIP = (pods[0]!.status as Obj).podIP as string;
    // Ready again whatever happens here: the tests after this one need all three.
    t.after(() => c.run(['exec', victim, '-n', NS, '--', 'touch', '/www/ready']).then(() => undefined));
    await c.ok(['exec', victim, '-n', NS, '--', 'rm', '/www/ready']);
    await eventually('the other two without it', async () => endpointIPs('web'), (ips) => ips.length === 2 && !ips.includes(victimIP));
    for (let i = 0; i < 6; i++) assert.notEqual(await httpGet(nodePort), victim, 'a not-ready pod got a request');
    await c.ok(['exec', victim, '-n', NS, '--', 'touch', '/www/ready']);
    await eventually('3 ready endpoints again', async () => endpointIPs('web'), (ips) => ips.length === 3 && ips.includes(victimIP));
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(await httpGet(nodePort));
    assert.ok(seen.has(victim), `back in rotation: ${[...seen].join(', ')}`);
  });

  test('ClientIP affinity keeps one client on one pod', async () => {
    await client.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'sticky', namespace: NS },
      spec: { type: 'NodePort', selector: { app: 'web' }, sessionAffinity: 'ClientIP', ports: [{ port: 80, targetPort: 8080 }] },
    });
    await eventually('sticky has 3 endpoints', async () => endpointsOf('sticky'), (n) => n === 3);
    const nodePort = (await service('sticky')).spec.ports[0].nodePort as number;
    const answers = new Set<string>();
    for (let i = 0; i < 6; i++) answers.add(await httpGet(nodePort));
    assert.equal(answers.size, 1, `one pod for one client: ${[...answers].join(', ')}`);
  });

  test('UDP echo through a Service', async () => {
    await client.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'echo', namespace: NS, labels: { app: 'echo' } },
      spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'echo', image: 'node:20-bookworm-slim', imagePullPolicy: 'IfNotPresent', command: ['node', '-e', UDP_ECHO] }] },
    });
    await client.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'echo', namespace: NS },
      spec: { type: 'NodePort', selector: { app: 'echo' }, ports: [{ port: 53, targetPort: 5353, protocol: 'UDP' }] },
    });
    await eventually('echo has its endpoint', async () => endpointsOf('echo'), (n) => n === 1, 60_000);
    const nodePort = (await service('echo')).spec.ports[0].nodePort as number;
    // The pod may be Running a moment before its socket is bound.
    const answer = await eventually('an echo', () => udpAsk(nodePort, 'hello', 1_000), () => true, 20_000);
    assert.equal(answer, 'echo:hello');
  });

  test('a proxy restart interrupts the Service no longer than the proxy takes to start', async () => {
    const nodePort = (await service('web')).spec.ports[0].nodePort as number;
    await proxy!.stop();
    await assert.rejects(httpGet(nodePort, '127.0.0.1', 1_000), 'nothing listens while the proxy is down');
    const t0 = Date.now();
    proxy = await startProxy();
    const startMs = Date.now() - t0;
    assert.ok((await httpGet(nodePort)).startsWith('web-'), 'answers right after the start');
    console.log(`proxy restart: serving again ${startMs} ms after the start began`);
  });

  test('a pod reaches a Service by the environment variables it was started with', { skip: ROOT ? false : 'cluster IPs become local addresses only as root' }, async () => {
    const clusterIP = (await service('web')).spec.clusterIP as string;
    // Only once the cluster IP is a local address may anything be sent to it.
    await eventually('the cluster IP is local', async () => execFileSync('ip', ['-o', 'addr', 'show', 'dev', IFACE], { encoding: 'utf8' }), (out) => out.includes(` ${clusterIP}/32 `));
    await client.create(callerPod('caller', `echo "host=$WEB_SERVICE_HOST port=$WEB_SERVICE_PORT"; ${ASK_WEB}`));
    const logs = await eventually(
      'the caller’s answer',
      () => c.ok(['logs', 'caller', '-n', NS]),
      (out) => /web-/.test(out),
      60_000,
    );
    assert.match(logs, new RegExp(`host=${clusterIP.replace(/\./g, '\\.')} port=80`));
    assert.match(logs, /^web-\w+$/m);
  });

  test('iptables mode: pods reach a cluster IP through NAT rules; an address of the range that is no Service is refused', { skip: ROOT ? false : 'iptables needs root' }, async () => {
    // The same Services, now through the kernel: the user-space proxy (and its cluster IP addresses) goes first.
    await proxy!.stop();
    proxy = await startNodeProxy({ client, mode: 'iptables', chainPrefix: `KT${process.pid % 100000}` });
    assert.equal(proxy.mode, 'iptables');
    const clusterIP = (await service('web')).spec.clusterIP as string;
    await client.create(callerPod('caller-nat', `for i in 1 2 3 4 5 6; do ${ASK_WEB} | tail -n 1; done; nc -w 2 10.96.255.254 80 </dev/null; echo "unknown: $?"`));
    const logs = await eventually('the caller’s answers', () => c.ok(['logs', 'caller-nat', '-n', NS]), (out) => /unknown: \d/.test(out), 60_000);
    const names = logs.split('\n').filter((l) => /^web-\w+$/.test(l));
    assert.equal(names.length, 6, `six answers through ${clusterIP}: ${logs}`);
    assert.ok(new Set(names).size >= 2, `balanced over the pods: ${names.join(', ')}`);
    assert.match(logs, /unknown: 1/);
    assert.match(logs, /Connection refused/, 'refused by the rules, not timed out');
    await proxy!.stop();
    assert.doesNotMatch(execFileSync('iptables-save', { encoding: 'utf8' }), new RegExp(`KT${process.pid % 100000}-`), 'its rules are gone');
    proxy = undefined;
  });
});
