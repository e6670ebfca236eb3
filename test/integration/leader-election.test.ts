/**
 * Leader election against a real nats-server, one server and a 3-node cluster:
 * one of three candidates leads, a graceful stop hands over at once, a crashed
 * leader is replaced once its lease expired, a deposed leader's writes are
 * refused by a real API server (409) while its successor's succeed, the leader
 * shows up as a Lease and in `keelson status`, and a follower's watch resumes
 * after NATS comes back. Leadership intervals are recorded on one clock and
 * checked never to overlap.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startApiServer, type ApiServer } from '../../services/apiserver/index.js';
import { statusReport } from '../../services/cli/status.js';
import type { KObject } from '../../services/lib/api/resources.js';
import { KeelsonClient } from '../../services/lib/client/index.js';
import { ApiError } from '../../services/lib/errors/index.js';
import {
  ElectionsBucket,
  isStaleLeaderToken,
  LEADER_TOKEN_HEADER,
  startLeaderElection,
  type LeaderElection,
  type LeaderElectionOptions,
} from '../../services/lib/leader-election/index.js';
import { startNatsServer } from '../../services/lib/nats-server/index.js';
import { connectNats, type NatsConnection } from '../../services/lib/nats/index.js';
import { eventually, until } from '../harness/wait.js';
import { startTestNats, type TestNats, type Topology } from '../harness/nats.js';

type Json = any;

/** One candidate in this process, with its leadership intervals on the monotonic clock. */
type Candidate = {
  name: string;
  nc: NatsConnection;
  election: LeaderElection;
  starts: number[];
  stops: number[];
  stoppedCalls: number;
  tokens: string[];
};

/** Starts candidates and stops them all (and closes their connections) when the test ends. */
function candidates(connect: (name: string) => Promise<NatsConnection>, hooks: { after(fn: () => Promise<void>): void }) {
  const all: Candidate[] = [];
  hooks.after(async () => {
    await Promise.all(all.map((c) => c.election.stop().catch(() => undefined)));
    await Promise.all(all.map((c) => c.nc.close().catch(() => undefined)));
  });
  const start = async (name: string, election: string, extra: Partial<LeaderElectionOptions> = {}): Promise<Candidate> => {
    const nc = await connect(name);
    const c = { name, nc, starts: [], stops: [], stoppedCalls: 0, tokens: [] } as unknown as Candidate;
    all.push(c);
    c.election = await startLeaderElection({
      nc,
      election,
      identity: name,
      onStartedLeading: ({ token, signal }) => {
        c.starts.push(performance.now());
        c.tokens.push(token);
        // The work stops when its signal aborts: that ends the interval.
        signal.addEventListener('abort', () => c.stops.push(performance.now()));
      },
      onStoppedLeading: () => void c.stoppedCalls++,
      ...extra,
    });
    return c;
  };
  return { all, start };
}

const leaders = (cs: Candidate[]) => cs.filter((c) => c.election.isLeader);

/** No two candidates' leadership intervals overlap (an interval still open ends now). */
function assertNoOverlap(cs: Candidate[]): void {
  for (const c of cs) assert.equal(c.stoppedCalls, c.stops.length, `${c.name}: onStoppedLeading once per aborted term`);
  const intervals = cs.flatMap((c) => c.starts.map((s, i) => ({ who: c.name, token: c.tokens[i], from: s, to: c.stops[i] ?? performance.now() })));
  intervals.sort((a, b) => a.from - b.from);
  const all = intervals.map((x) => `${x.who} (${x.token}) ${x.from.toFixed(1)}–${x.to.toFixed(1)}`).join(', ');
  for (let i = 1; i < intervals.length; i++) {
    const [a, b] = [intervals[i - 1]!, intervals[i]!];
    assert.ok(b.from >= a.to, `${a.who} led until ${a.to.toFixed(1)} but ${b.who} started at ${b.from.toFixed(1)}: ${all}`);
  }
}

async function rejects(p: Promise<unknown>, check: (e: ApiError) => void): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ApiError, `expected an ApiError, got ${caught === undefined ? 'success' : String(caught)}`);
  check(caught);
}

const lease = (name: string): KObject => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name, namespace: 'default' },
  spec: { holderIdentity: 'probe', leaseDurationSeconds: 10 },
});

for (const topology of ['single', 'cluster'] as Topology[]) {
  describe(`leader election, ${topology} nats-server`, () => {
    let nats: TestNats;
    let server: ApiServer;
    let admin: KeelsonClient;

    before(async () => {
      nats = await startTestNats({ after: () => undefined }, topology);
      server = await startApiServer({ nats: nats.urls, host: '127.0.0.1', port: 0, replicas: nats.replicas });
      admin = new KeelsonClient(await nats.connect('admin'), { timeoutMs: 5_000 });
    });
    after(async () => {
      await server?.stop();
      await nats?.stop();
    });

    test('one of three candidates leads; the others follow it; the Lease and `keelson status` show it', async (t) => {
      const { all, start } = candidates((n) => nats.connect(n), t);
      for (const n of ['a', 'b', 'c']) await start(n, 'kube-scheduler', { replicas: nats.replicas });
      const [leader] = await until('one leader', () => leaders(all).length === 1 && leaders(all), 5_000);
      await until('every candidate to know the leader', () => all.every((c) => c.election.leader === leader!.name), 5_000);
      // Several renewals later: still the one leader, never two at a time.
      const end = Date.now() + 2 * leader!.election.leaseMs;
      while (Date.now() < end) {
        assert.ok(leaders(all).length <= 1, 'two leaders at once');
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(leaders(all)[0], leader, 'leadership stayed put while renewals succeeded');
      assert.deepEqual(all.map((c) => c.starts.length), all.map((c) => (c === leader ? 1 : 0)));
      assert.match(leader!.election.token!, /^kube-scheduler:\d+$/);

      const mirrored = await eventually(
        'the Lease kube-system/kube-scheduler',
        () => admin.get('Lease', 'kube-system', 'kube-scheduler'),
        (l) => (l.spec as Json)?.holderIdentity === leader!.name,
      );
      const spec = mirrored.spec as Json;
      assert.equal(spec.leaseDurationSeconds, Math.ceil(leader!.election.leaseMs / 1000));
      assert.match(spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'MicroTime');
      assert.match(spec.acquireTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'MicroTime');
      const res = await fetch(`${server.url}/apis/coordination.k8s.io/v1/namespaces/kube-system/leases`);
      const list = (await res.json()) as Json;
      assert.ok(list.items.some((l: Json) => l.metadata.name === 'kube-scheduler' && l.spec.holderIdentity === leader!.name), 'kubectl get leases -n kube-system');

      const report = await statusReport(admin.nc);
      const term = leader!.election.token!.split(':')[1]!;
      assert.match(report, new RegExp(`kube-scheduler\\s+${leader!.name}\\s+${term}\\s`), report);
      assert.match(report, /kube-controller-manager\s+<none>/, report);
      for (const line of report.trimEnd().split('\n')) t.diagnostic(line);
      assertNoOverlap(all);
    });

    test('a graceful stop hands leadership over at once, round after round', async (t) => {
      // Each release sets the followers racing to create the key: on a replicated
      // bucket that race is where two creates can both be acknowledged (nats-server#4320).
      const { all, start } = candidates((n) => nats.connect(n), t);
      for (const n of ['a', 'b', 'c']) await start(n, 'handoff', { replicas: nats.replicas });
      const rounds = 6;
      const handoffs: number[] = [];
      let last: Candidate | undefined;
      for (let round = 1; round <= rounds; round++) {
        const [old] = await until('one leader', () => leaders(all).length === 1 && leaders(all), 5_000);
        const t0 = performance.now();
        await old!.election.stop();
        const [next] = await until('a new leader', () => leaders(all).length === 1 && leaders(all)[0] !== old && leaders(all), 5_000);
        handoffs.push(next!.starts.at(-1)! - t0);
        assert.ok(old!.stops.at(-1)! <= next!.starts.at(-1)!, 'the old leader stopped before the new one started');
        last = next;
        await start(`n${round}`, 'handoff', { replicas: nats.replicas });
      }
      const sorted = [...handoffs].sort((x, y) => x - y);
      t.diagnostic(`${topology}: graceful handoff over ${rounds} rounds: min ${sorted[0]!.toFixed(1)} ms, median ${sorted[rounds >> 1]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`);
      // Through the release, not the expiry: well before a lease could have run out.
      for (const ms of handoffs) assert.ok(ms < all[0]!.election.leaseMs, `a handoff took ${ms.toFixed(0)} ms, as long as a lease`);
      assertNoOverlap(all);
      const mirrored = await eventually(
        'the Lease to name the last leader',
        () => admin.get('Lease', 'kube-system', 'handoff'),
        (l) => (l.spec as Json)?.holderIdentity === last!.name,
      );
      assert.equal((mirrored.spec as Json).leaseTransitions, rounds);
    });

    test('a crashed leader is replaced once its lease has expired', async (t) => {
      const { all, start } = candidates((n) => nats.connect(n), t);
      for (const n of ['a', 'b', 'c']) await start(n, 'crash', { replicas: nats.replicas });
      const [old] = await until('one leader', () => leaders(all).length === 1 && leaders(all), 5_000);
      const { leaseMs } = old!.election;
      // The lease is renewed every 0.5 s: crash right after a renewal, so the lease runs its full length.
      const bucket = await ElectionsBucket.open(admin.nc, { bindOnly: true });
      await until('a fresh renewal', async () => {
        const e = await bucket.get('crash');
        return !!e && Date.now() - e.createdMs < 50;
      }, 5_000);
      const t0 = performance.now();
      await old!.nc.close(); // gone without a word: no release
      const [next] = await until('a new leader', () => leaders(all).length === 1 && leaders(all), leaseMs + 5_000);
      const takeoverMs = next!.starts[0]! - t0;
      t.diagnostic(`${topology}: crash → standby acting in ${takeoverMs.toFixed(1)} ms (lease ${leaseMs} ms)`);
      assert.notEqual(next, old);
      assert.ok(takeoverMs >= leaseMs - 150, `taken over after ${takeoverMs.toFixed(0)} ms: before the lease of ${leaseMs} ms ran out`);
      assertNoOverlap(all);
    });

    test("a deposed leader's writes get 409; its successor's succeed (NATS and HTTP)", async (t) => {
      const { all, start } = candidates((n) => nats.connect(n), t);
      const a = await start('a', 'fenced', { replicas: nats.replicas });
      await until('a to lead', () => a.election.isLeader, 5_000);
      const b = await start('b', 'fenced', { replicas: nats.replicas });
      const oldToken = a.election.token!;
      await admin.withToken(oldToken).create(lease('by-a'));

      await a.nc.close();
      await until('b to lead', () => b.election.isLeader, a.election.leaseMs + 5_000);
      const newToken = b.election.token!;
      const [oldTerm, newTerm] = [oldToken, newToken].map((x) => Number(x.split(':')[1]));
      assert.ok(newTerm! > oldTerm!);

      const stale = (e: ApiError) => {
        assert.equal(e.code, 409);
        assert.equal(e.reason, 'Conflict');
        assert.ok(isStaleLeaderToken(e));
        assert.equal(e.message, `stale leader token: fenced term ${oldTerm} was superseded by term ${newTerm}; this instance is no longer the leader`);
      };
      const deposed = admin.withToken(oldToken);
      const current = admin.withToken(newToken);
      await rejects(deposed.create(lease('by-a-again')), stale);
      const existing = await admin.get('Lease', 'default', 'by-a');
      await rejects(deposed.update({ ...existing, spec: { holderIdentity: 'a' } }), stale);
      await rejects(deposed.patch('Lease', 'default', 'by-a', 'merge', { spec: { holderIdentity: 'a' } }), stale);
      await rejects(deposed.delete('Lease', 'default', 'by-a'), stale);
      assert.equal((await deposed.get('Lease', 'default', 'by-a')).metadata?.name, 'by-a', 'reads are not fenced');

      await current.create(lease('by-b'));
      await current.patch('Lease', 'default', 'by-a', 'merge', { spec: { holderIdentity: 'b' } });
      await current.delete('Lease', 'default', 'by-b');

      await rejects(admin.withToken(`fenced:${newTerm! + 1_000_000}`).create(lease('x')), (e) => {
        assert.equal(e.code, 409);
        assert.match(e.message, /fenced has no term \d+ \(its current term is \d+\)/);
      });
      await rejects(admin.withToken('no-such-election:5').create(lease('x')), (e) => {
        assert.equal(e.code, 409);
        assert.match(e.message, /no-such-election term 5 is over and nobody holds the election now/);
      });
      await rejects(admin.withToken('not-a-token').create(lease('x')), (e) => assert.equal(e.code, 400));

      const post = (token: string) =>
        fetch(`${server.url}/apis/coordination.k8s.io/v1/namespaces/default/leases`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [LEADER_TOKEN_HEADER]: token },
          body: JSON.stringify(lease(`http-${token.replace(/\W/g, '')}`)),
        });
      const refused = await post(oldToken);
      const status = (await refused.json()) as Json;
      assert.equal(refused.status, 409);
      assert.equal(status.kind, 'Status');
      assert.equal(status.reason, 'Conflict');
      assert.match(status.message, /stale leader token: fenced term \d+ was superseded/);
      assert.equal((await post(newToken)).status, 201);
      assert.equal((await post('fenced')).status, 400);
      assertNoOverlap(all);
    });
  });
}

describe('leader election across a nats-server restart', () => {
  test("a follower's watch resumes: after NATS is back (its consumers lost), a release is taken over at once", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'keelson-leader-'));
    let server = await startNatsServer({ dataDir: dir });
    // Hooks run in order: the candidates stop while the server is still there.
    const { all, start } = candidates((n) => connectNats([server.url], n), t);
    t.after(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    for (const n of ['a', 'b']) await start(n, 'restart', { mirrorLease: false });
    await until('one leader', () => leaders(all).length === 1, 5_000);
    const admin = await connectNats([server.url], 'admin');
    t.after(() => admin.close());
    const bucket = await ElectionsBucket.open(admin, { bindOnly: true });
    const before = (await bucket.get('restart'))!.revision;

    await server.stop();
    // The consumers behind the watches are lost, as when the server holding them is
    // gone for good: only a watch started anew after the reconnect hears anything.
    rmSync(join(dir, 'jetstream', 'jetstream', '$G', 'streams', 'KV_keelson-elections', 'obs'), { recursive: true, force: true });
    server = await startNatsServer({ dataDir: dir, port: server.port });
    const held = await until('the lease written after the restart', () => bucket.get('restart').then((e) => e && e.revision > before && e, () => undefined), 10_000);
    const leader = await until('its holder to lead', () => all.find((c) => c.name === held.holderIdentity && c.election.isLeader), 5_000);
    const follower = all.find((c) => c !== leader)!;
    await until('the follower to know the leader', () => follower.election.leader === leader.name, 5_000);

    // Release right after a renewal: the follower's own timer would not fire for
    // about a lease; only the deletion, seen through the watch, makes it act sooner.
    await until('a fresh renewal', async () => {
      const e = await bucket.get('restart');
      return !!e && Date.now() - e.createdMs < 50;
    }, 5_000);
    const t0 = performance.now();
    await leader.election.stop();
    await until('the follower to lead', () => follower.election.isLeader, 5_000);
    const ms = follower.starts.at(-1)! - t0;
    t.diagnostic(`after the restart: handoff ${ms.toFixed(1)} ms`);
    assert.ok(ms < bucket.leaseMs / 2, `took ${ms.toFixed(0)} ms: the follower did not see the release`);
    assertNoOverlap(all);
  });
});
