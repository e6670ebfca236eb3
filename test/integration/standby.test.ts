/**
 * Standby masters, as separate processes: three `keelson scheduler` and three
 * `keelson controller-manager` against one cluster. Exactly one of each leads;
 * kill -9 of a leader hands the lease to a standby once it runs out; SIGTERM
 * hands it over at once. Leadership is read from what each process says
 * ("leading" / "stopped leading"), in arrival order.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import { startTestNats, type TestNats } from '../harness/nats.js';

const CLI = ['--import', 'tsx', join(import.meta.dirname, '../../services/cli/main.ts')];

type Candidate = { id: string; child: ChildProcess; leading: boolean; log: string };

describe('standby masters: 3 schedulers and 3 controller-managers', () => {
  let nats: TestNats;
  let api: ApiServer;
  const candidates: Candidate[] = [];

  const start = (kind: 'scheduler' | 'controller-manager', id: string): Candidate => {
    const child = spawn(process.execPath, [...CLI, kind, '--nats', nats.urls.join(','), '--identity', id, '--host', '127.0.0.1', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const c: Candidate = { id, child, leading: false, log: '' };
    const onLine = (d: Buffer) => {
      c.log += d.toString();
      for (const line of d.toString().split('\n')) {
        if (/: leading \(/.test(line)) c.leading = true;
        if (/: stopped leading/.test(line)) c.leading = false;
      }
    };
    child.stdout!.on('data', onLine);
    child.stderr!.on('data', onLine);
    child.on('exit', () => (c.leading = false));
    candidates.push(c);
    return c;
  };

  const group = (kind: string) => candidates.filter((c) => c.id.startsWith(kind) && c.child.exitCode === null && c.child.signalCode === null);
  const leaders = (kind: string) => group(kind).filter((c) => c.leading);

  /** Waits until exactly one of the group leads; returns it and how long it took. */
  const oneLeader = async (kind: string, withinMs: number): Promise<{ leader: Candidate; ms: number }> => {
    const t0 = Date.now();
    for (;;) {
      const l = leaders(kind);
      assert.ok(l.length <= 1, `two ${kind} leaders at once: ${l.map((c) => c.id)}`);
      if (l.length === 1) return { leader: l[0]!, ms: Date.now() - t0 };
      if (Date.now() - t0 > withinMs) {
        throw new Error(`no ${kind} leader within ${withinMs} ms:\n${group(kind).map((c) => `--- ${c.id}\n${c.log}`).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const stopped = (c: Candidate, signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      c.child.once('exit', () => resolve());
      c.child.kill(signal);
    });

  before(async () => {
    nats = await startTestNats({ after: () => undefined }, 'single');
    api = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0 });
    for (const kind of ['scheduler', 'controller-manager'] as const) {
      for (let i = 1; i <= 3; i++) start(kind, `${kind}-${i}`);
    }
  });
  after(async () => {
    for (const c of candidates) if (c.child.exitCode === null) c.child.kill('SIGKILL');
    await api?.stop();
    await nats?.stop();
  });

  for (const kind of ['scheduler', 'controller-manager']) {
    test(`${kind}: one leads; kill -9 moves the lease to a standby; SIGTERM hands it over at once`, async () => {
      const first = (await oneLeader(kind, 60_000)).leader;
      // Watch for a while: still one, still the same.
      for (let i = 0; i < 50; i++) {
        assert.deepEqual(leaders(kind).map((c) => c.id), [first.id]);
        await new Promise((r) => setTimeout(r, 20));
      }

      await stopped(first, 'SIGKILL');
      const crash = await oneLeader(kind, 10_000);
      assert.notEqual(crash.leader.id, first.id);
      // The lease (1.5 s from the last renewal, at most 0.5 s before the kill) has to
      // run out first; the standby then acts within a round trip.
      assert.ok(crash.ms >= 900, `took over after ${crash.ms} ms, before the lease could run out`);
      assert.ok(crash.ms < 4_000, `took over after ${crash.ms} ms`);

      const t0 = Date.now();
      await stopped(crash.leader, 'SIGTERM');
      const handoff = await oneLeader(kind, 10_000);
      const handoffMs = Date.now() - t0;
      assert.notEqual(handoff.leader.id, crash.leader.id);
      assert.ok(handoffMs < 1_000, `graceful handoff took ${handoffMs} ms (a lease expiry would take 1.5 s)`);
      console.log(`${kind}: crash -> standby acting ${crash.ms} ms; SIGTERM handoff ${handoffMs} ms`);
    });
  }
});
