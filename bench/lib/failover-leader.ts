/**
 * Leader failover rounds of the failover benchmark: three candidates of one
 * election (`keelson scheduler` or `keelson controller-manager` processes), the
 * leader killed (SIGKILL) or stopped (SIGTERM) at a random point of its renewal
 * cycle, then restarted so that three always stand.
 *
 * Who leads is read from what each process says ("leading (" / "stopped
 * leading"), stamped on arrival; a killed leader stops leading when the signal
 * is sent. An overlap is a "leading" line while another candidate's term is
 * still open. "Acting" is measured from outside, by work only a leader does:
 * the scheduler binds a pod created right after the kill, the controller-manager
 * creates the pod of a ReplicaSet scaled up right after the kill.
 */
import type { KV } from '@nats-io/kv';
import type { KObject } from '../../services/lib/api/resources.js';
import type { KeelsonClient } from '../../services/lib/client/index.js';
import type { Informer } from '../../services/lib/informer/index.js';
import type { CliProcess } from './cli-process.js';
import { pollUntil, sleep } from './proc.js';
import { nowMs } from './stats.js';

export type Kind = 'scheduler' | 'controller-manager';
export const ELECTION: Record<Kind, string> = { scheduler: 'kube-scheduler', 'controller-manager': 'kube-controller-manager' };

export type LeaderRound = {
  kind: Kind;
  how: 'crash' | 'handoff';
  /** Signal sent → another candidate says "leading". */
  toLeadingMs: number;
  /** Signal sent → the work only a leader does was seen done. */
  toActingMs: number;
  /** Crash only: when the lease could be taken (last renewal seen + lease) → "leading". */
  takeableToLeadingMs?: number;
  /** Crash only: lease left at the kill (lease − time since the last renewal seen). */
  leaseLeftAtKillMs?: number;
};

type Term = { id: string; startMs: number; endMs?: number };

/** The three candidates of one election, their terms, and the overlaps seen. */
export class Candidates {
  private readonly members = new Map<string, CliProcess>();
  readonly terms: Term[] = [];
  readonly overlaps: string[] = [];
  private next = 1;

  constructor(
    readonly kind: Kind,
    private readonly spawn: (id: string) => CliProcess,
  ) {}

  /** Starts a candidate and waits until it stands in the election. */
  async add(): Promise<void> {
    const id = `${this.kind}-${this.next++}`;
    const p = this.spawn(id);
    this.members.set(id, p);
    p.onLine(/: leading \(/, (l) => this.started(id, l.atMs));
    p.onLine(/: stopped leading/, (l) => this.ended(id, l.atMs));
    void p.exited.then((at) => {
      this.ended(id, at);
      this.members.delete(id);
    });
    await p.nextLine(/candidate .* in election/, 60_000);
  }

  leader(): { id: string; p: CliProcess } | undefined {
    const open = this.terms.find((t) => t.endMs === undefined);
    const p = open && this.members.get(open.id);
    return open && p ? { id: open.id, p } : undefined;
  }

  /** The next "leading" of anyone but `not`, after `sinceMs`. */
  nextLeader(not: string, sinceMs: number, timeoutMs: number): Promise<Term> {
    return pollUntil(`${this.kind}: a new leader after the signal`, () => this.terms.find((x) => x.id !== not && x.startMs >= sinceMs), timeoutMs, 5);
  }

  waitForLeader(timeoutMs: number): Promise<{ id: string; p: CliProcess }> {
    return pollUntil(`${this.kind}: a leader`, () => this.leader(), timeoutMs);
  }

  /** A killed leader stops leading when the signal leaves (it cannot say so). */
  killed(id: string, atMs: number): void {
    this.ended(id, atMs);
  }

  /** What each live candidate said last: for the error of a failed round. */
  tails(): string {
    return [...this.members.entries()].map(([id, p]) => `--- ${id}\n${p.tail().split('\n').slice(-15).join('\n')}`).join('\n');
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.members.values()].map((p) => p.stop()));
  }

  private started(id: string, atMs: number): void {
    const other = this.terms.find((t) => t.endMs === undefined && t.id !== id);
    if (other) this.overlaps.push(`${id} said "leading" ${Math.round(atMs - other.startMs)} ms into ${other.id}'s term, which had not ended`);
    this.terms.push({ id, startMs: atMs });
  }

  private ended(id: string, atMs: number): void {
    for (const t of this.terms) if (t.id === id && t.endMs === undefined) t.endMs = atMs;
  }
}

/**
 * Arrival times of each election's renewals, from a watch on the elections
 * bucket: the lease can be taken one lease after the last one.
 */
export class RenewalWatch {
  private readonly last = new Map<string, number>();
  private iter?: { stop(): void };

  async start(kv: KV): Promise<void> {
    const iter = await kv.watch({ key: '>' });
    this.iter = iter;
    void (async () => {
      for await (const e of iter) if (e.operation === 'PUT') this.last.set(e.key, nowMs());
    })();
  }

  lastRenewalMs(election: string): number | undefined {
    return this.last.get(election);
  }

  stop(): void {
    this.iter?.stop();
  }
}

/** Work only a leader does, triggered right after the signal; resolves when it was seen done. */
export type ProbeWork = (round: number) => Promise<() => Promise<number>>;

/** The scheduler's work: a pending pod created now is bound. */
export function bindProbe(client: KeelsonClient, pods: Informer, namespace: string, timeoutMs: number): ProbeWork {
  return async (round) => {
    const name = `probe-${round}`;
    const done = seen(pods, (ev) => ev.object.metadata?.name === name && !!(ev.object.spec as { nodeName?: string } | undefined)?.nodeName, timeoutMs, `pod ${name} bound`);
    await client.create(probePod(namespace, name));
    return () => done;
  };
}

/** The controller-manager's work: the ReplicaSet scaled up by one gets its new pod. */
export function replicaProbe(client: KeelsonClient, pods: Informer, rs: KObject, timeoutMs: number): ProbeWork {
  let replicas = (rs.spec as { replicas: number }).replicas;
  const uid = rs.metadata!.uid!;
  return async () => {
    const done = seen(pods, (ev) => ev.type === 'ADDED' && !!ev.object.metadata?.ownerReferences?.some((o) => o.uid === uid), timeoutMs, `a new pod of ReplicaSet ${rs.metadata!.name}`);
    replicas++;
    await client.scale('replicasets', rs.metadata!.namespace, rs.metadata!.name!, replicas);
    return () => done;
  };
}

function seen(pods: Informer, match: (ev: Parameters<Parameters<Informer['on']>[0]>[0]) => boolean, timeoutMs: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${what}: not seen within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = pods.on((ev) => {
      if (!match(ev)) return;
      clearTimeout(timer);
      off();
      resolve(nowMs());
    });
  });
}

export function probePod(namespace: string, name: string, labels: Record<string, string> = { app: 'failover-bind-probe' }): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'main', image: 'busybox:latest', command: ['sleep', '3600'], resources: { requests: { cpu: '10m', memory: '8Mi' } } }],
    },
  };
}

/**
 * One round: waits for a leader, a random part of the renewal cycle, then
 * signals it and triggers the probe work; restarts a candidate after.
 */
export async function leaderRound(o: {
  candidates: Candidates;
  how: 'crash' | 'handoff';
  round: number;
  renewals: RenewalWatch;
  leaseMs: number;
  renewMs: number;
  work: ProbeWork;
  timeoutMs: number;
}): Promise<LeaderRound> {
  const c = o.candidates;
  const { id, p } = await c.waitForLeader(o.timeoutMs);
  await sleep(Math.random() * o.renewMs);
  const election = ELECTION[c.kind];
  const sigAt = p.signal(o.how === 'crash' ? 'SIGKILL' : 'SIGTERM');
  if (o.how === 'crash') c.killed(id, sigAt);
  const lastRenewal = o.renewals.lastRenewalMs(election);
  const acted = await o.work(o.round);
  let term: Term;
  let actedAt: number;
  try {
    term = await c.nextLeader(id, sigAt, o.timeoutMs);
    actedAt = await acted();
  } catch (e) {
    throw new Error(`${c.kind} ${o.how} round ${o.round}: ${(e as Error).message}\n${c.tails()}`);
  }
  await p.exited;
  await c.add();
  const round: LeaderRound = { kind: c.kind, how: o.how, toLeadingMs: term.startMs - sigAt, toActingMs: actedAt - sigAt };
  if (o.how === 'crash' && lastRenewal !== undefined) {
    round.takeableToLeadingMs = term.startMs - (lastRenewal + o.leaseMs);
    round.leaseLeftAtKillMs = lastRenewal + o.leaseMs - sigAt;
  }
  return round;
}
