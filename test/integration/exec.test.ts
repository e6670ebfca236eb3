/**
 * `pods/exec` end to end below kubectl: a WebSocket client speaking
 * v5.channel.k8s.io to a real API server, which relays over NATS to a kubelet
 * on the process runtime (real `sh`, real stdin). Also every refusal before
 * the upgrade, as an HTTP Status.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { Channel } from '../../services/lib/kubelet-api/index.js';
import { startKubelet, type Kubelet } from '../../services/kubelet/index.js';
import { ProcessRuntime } from '../../services/kubelet/runtime/index.js';
import { eventually } from '../harness/wait.js';
import { startTestNats, type TestNats } from '../harness/nats.js';

const NODE = 'exec-node';
const BUCKET = 'exec-test';

type Outcome = { stdout: string; stderr: string; status: Record<string, any> | undefined; protocol: string };

describe('pods/exec over WebSocket', () => {
  let nats: TestNats;
  let api: ApiServer;
  let client: KeelsonClient;
  let runtime: ProcessRuntime;
  let kubelet: Kubelet;
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'keelson-exec-'));
    nats = await startTestNats({ after: () => undefined }, 'single');
    api = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0, bucket: BUCKET });
    client = await KeelsonClient.connect(nats.urls, 'exec-test', { bucket: BUCKET });
    runtime = await ProcessRuntime.open({ dataDir });
    kubelet = await startKubelet({ nats: nats.urls, nodeName: NODE, runtime, heartbeatMs: 500, bucket: BUCKET });
    const pod = (name: string, nodeName: string | undefined) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default' },
      spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'app', image: 'busybox', command: ['sleep', '3600'] }] },
    });
    await client.create(pod('shell', NODE));
    await client.create(pod('unbound', undefined));
    await client.create(pod('orphan', 'no-such-node'));
    await eventually('shell Running', () => client.get('pods', 'default', 'shell'), (p: any) => p.status?.phase === 'Running', 15_000);
  });
  after(async () => {
    await client?.delete('pods', 'default', 'shell', { gracePeriodSeconds: 0 }).catch(() => undefined);
    await kubelet?.stop().catch(() => undefined);
    for (const m of (await runtime?.listManaged().catch(() => [])) ?? []) await runtime.removeContainer(m.id).catch(() => undefined);
    await runtime?.close().catch(() => undefined);
    await client?.close();
    await api?.stop();
    await nats?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const url = (pod: string, query: string) => `${api.url.replace(/^http/, 'ws')}/api/v1/namespaces/default/pods/${pod}/exec?${query}`;
  const cmd = (...args: string[]) => args.map((a) => `command=${encodeURIComponent(a)}`).join('&');

  /** Runs one exec; `input` is sent on stdin, then stdin is closed (v5). */
  const run = (pod: string, query: string, input?: string, protocols = ['v5.channel.k8s.io', 'v4.channel.k8s.io']) =>
    new Promise<Outcome>((resolve, reject) => {
      const ws = new WebSocket(url(pod, query), protocols);
      const out: Outcome = { stdout: '', stderr: '', status: undefined, protocol: '' };
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`exec ${query} did not finish`));
      }, 10_000);
      ws.on('open', () => {
        out.protocol = ws.protocol;
        if (input !== undefined) {
          ws.send(Buffer.concat([Buffer.from([Channel.STDIN]), Buffer.from(input)]));
          ws.send(Buffer.from([Channel.CLOSE, Channel.STDIN]));
        }
      });
      ws.on('message', (data: Buffer) => {
        const payload = data.subarray(1).toString('utf8');
        if (data[0] === Channel.STDOUT) out.stdout += payload;
        else if (data[0] === Channel.STDERR) out.stderr += payload;
        else if (data[0] === Channel.ERROR) out.status = JSON.parse(payload);
      });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => {
          clearTimeout(timer);
          reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { code: res.statusCode, status: JSON.parse(body) }));
        });
      });
      ws.on('close', () => {
        clearTimeout(timer);
        resolve(out);
      });
      ws.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });

  test('runs a command: stdout and stderr apart, then a Success status', async () => {
    const r = await run('shell', `${cmd('sh', '-c', 'echo out; echo err >&2')}&stdout=true&stderr=true`);
    assert.equal(r.protocol, 'v5.channel.k8s.io');
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(r.status?.status, 'Success');
  });

  test('a non-zero exit comes back as NonZeroExitCode with the code', async () => {
    const r = await run('shell', `${cmd('sh', '-c', 'exit 3')}&stdout=true&stderr=true`);
    assert.equal(r.status?.status, 'Failure');
    assert.equal(r.status?.reason, 'NonZeroExitCode');
    assert.deepEqual(r.status?.details?.causes, [{ reason: 'ExitCode', message: '3' }]);
  });

  test('stdin reaches the command, and closing it ends the input', async () => {
    const r = await run('shell', `${cmd('sh', '-c', 'cat; echo end')}&stdin=true&stdout=true&stderr=true`, 'hello\n');
    assert.equal(r.stdout, 'hello\nend\n');
    assert.equal(r.status?.status, 'Success');
  });

  test('v4.channel.k8s.io is spoken too', async () => {
    const r = await run('shell', `${cmd('echo', 'v4')}&stdout=true`, undefined, ['v4.channel.k8s.io']);
    assert.equal(r.protocol, 'v4.channel.k8s.io');
    assert.equal(r.stdout, 'v4\n');
  });

  test('a command that cannot start fails on the error channel', async () => {
    const r = await run('shell', `${cmd('no-such-command-here')}&stdout=true`);
    assert.equal(r.status?.status, 'Failure');
    assert.match(JSON.stringify(r.status), /no-such-command-here/);
  });

  test('a pod whose kubelet does not answer gets a 503 on the error channel', async () => {
    const r = await run('orphan', `${cmd('true')}&stdout=true`);
    assert.equal(r.status?.code, 503);
    assert.match(r.status?.message, /no-such-node.*did not answer/);
  });

  test('bad requests are refused before the upgrade, with a Status', async () => {
    const refused = async (pod: string, query: string, code: number, message: RegExp, protocols?: string[]) => {
      const e = (await run(pod, query, undefined, protocols).then(
        () => assert.fail(`exec ${pod}?${query} was accepted`),
        (err: unknown) => err,
      )) as { code: number; status: { kind: string; message: string } };
      assert.equal(e.code, code, `${pod}?${query}`);
      assert.equal(e.status.kind, 'Status');
      assert.match(e.status.message, message);
    };
    await refused('nope', cmd('true'), 404, /pods "nope" not found/);
    await refused('unbound', cmd('true'), 400, /does not have a host assigned/);
    await refused('shell', `${cmd('true')}&container=sidecar`, 400, /container sidecar is not valid/);
    await refused('shell', 'stdout=true', 400, /at least one command/);
    await refused('shell', cmd('true'), 400, /v5\.channel\.k8s\.io.*offered base64\.channel\.k8s\.io/, ['base64.channel.k8s.io']);
  });

  test('without an upgrade, and over SPDY, exec says what to use', async () => {
    const get = await fetch(`${api.url}/api/v1/namespaces/default/pods/shell/exec?${cmd('true')}`);
    assert.equal(get.status, 400);
    assert.match(((await get.json()) as { message: string }).message, /Upgrade request required/);
    const spdy = await fetch(`${api.url}/api/v1/namespaces/default/pods/shell/exec?${cmd('true')}`, { method: 'POST' });
    assert.equal(spdy.status, 400);
    assert.match(((await spdy.json()) as { message: string }).message, /SPDY\/3\.1 is not supported: use kubectl 1\.30 or newer/);
  });
});
