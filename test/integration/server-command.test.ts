/**
 * `keelson server` as a master runs it: two of them against one 3-node NATS
 * cluster (an R3 store) are one control plane — each serves the API, one of
 * them leads each election and the other stands by, and a SIGTERM hands the
 * leadership over and leaves no process behind.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../services/lib/nats-server/index.js';
import { ElectionsBucket } from '../../services/lib/leader-election/index.js';
import { startTestNats } from '../harness/nats.js';
import { until } from '../harness/wait.js';

const CLI = ['--import', 'tsx', join(import.meta.dirname, '../../services/cli/main.ts')];

type Master = { name: string; child: ChildProcess; api: string; output: () => string; exited: Promise<number | null> };

async function startMaster(name: string, nats: string[]): Promise<Master> {
  const [port, sched, cm] = [await freePort(), await freePort(), await freePort()];
  const args = ['server', '--nats', nats.join(','), '--replicas', '3', '--host', '127.0.0.1', '--port', String(port)];
  args.push('--scheduler-port', String(sched), '--controller-manager-port', String(cm), '--identity', name);
  const child = spawn(process.execPath, [...CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { name, child, api: `http://127.0.0.1:${port}`, output: () => out, exited };
}

test('two `keelson server` masters: both serve the API, one leads each election, SIGTERM hands over', { timeout: 90_000 }, async (t) => {
  const nats = await startTestNats(t, 'cluster');
  const masters: Master[] = [];
  t.after(() => {
    for (const m of masters) m.child.kill('SIGKILL');
  });
  masters.push(await startMaster('master-a', nats.urls), await startMaster('master-b', nats.urls));
  for (const m of masters) {
    await until(`${m.name} to start`, () => m.output().includes('keelson server: API server on'), 30_000);
    const ready = await fetch(`${m.api}/readyz`);
    assert.equal(ready.status, 200, `${m.name} /readyz`);
  }
  const nc = await nats.connect('server-command-test');
  const bucket = await ElectionsBucket.open(nc, { bindOnly: true, timeoutMs: 5_000 });
  const holders = async () => new Map((await bucket.list()).map((e) => [e.election, e.holderIdentity]));
  await until('both elections held', async () => {
    const h = await holders();
    return h.get('kube-scheduler') !== undefined && h.get('kube-controller-manager') !== undefined;
  }, 15_000);

  const first = (await holders()).get('kube-scheduler')!;
  const leader = masters.find((m) => m.name === first)!;
  leader.child.kill('SIGTERM');
  const code = await Promise.race([leader.exited, new Promise((r) => setTimeout(() => r('still running after 15 s'), 15_000))]);
  assert.equal(code, 0, `the leader exits cleanly:\n${leader.output()}`);
  const other = masters.find((m) => m !== leader)!.name;
  await until(`${other} to lead both elections`, async () => {
    const h = await holders();
    return h.get('kube-scheduler') === other && h.get('kube-controller-manager') === other;
  }, 5_000);
});
