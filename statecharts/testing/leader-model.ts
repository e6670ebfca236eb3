/**
 * An exhaustive explorer for leader election: several copies of the real leader
 * machine (stepped with XState's pure `transition`) against a model of the
 * JetStream KV key, on a discrete clock. Breadth-first over every interleaving
 * of what can happen within these bounds:
 *
 *  - a request reaches the server up to `maxDelay` ticks after it was sent, and
 *    its answer comes back up to `maxDelay` ticks after that; the server stamps
 *    a write with the tick it applies it at, and the key is gone `leaseMs` later;
 *  - a timer fires up to `maxPause` ticks late (a paused process), each
 *    independently (a superset of one pause delaying them all);
 *  - watch events arrive up to `maxDelay` ticks late, a newer one replacing one
 *    not yet delivered (so any can be skipped);
 *  - within budgets: requests fail without being applied, answers are lost after
 *    being applied (the caller sees an error), watch events are dropped,
 *    candidates crash (their requests in flight may still land), STOP;
 *  - a request whose caller gave up (a cancelled invoke) may still land.
 *
 * There is no time horizon: states are compared with every time taken relative
 * to now and revisions renamed by rank (the machine only compares them), so the
 * state space is finite and exploring it covers runs of any length. Candidates
 * are interchangeable, so a state is also the same under any permutation of them.
 * After every step it checks that at most one live candidate is in Leader — the
 * state in which it acts — and returns the first violation with its trace.
 */
import { initialTransition, transition, type AnyEventObject } from 'xstate';
import { LEASE_LOST, leaderMachine, type LeaderSnapshot, type LeaderTiming, type LeaseRef } from '../leader.machine.js';

export type ModelParams = {
  candidates: number;
  /** Machine timing, in ticks. */
  timing: LeaderTiming;
  maxDelay: number;
  /** How late watch events may come (default maxDelay). */
  watchDelay?: number;
  maxPause: number;
  crashes: number;
  stops: number;
  /** Failed requests, lost answers and dropped watch events, in all. */
  faults: number;
  /** Give up (and fail) beyond this many states. */
  maxStates?: number;
};

export type ModelResult = {
  states: number;
  /** Machine transitions computed (the rest were the same step in another state). */
  transitions: number;
  /** Situations reached, to show the exploration is not vacuous: 'leader', 'takeover after crash', 'takeover after release'. */
  reached: Set<string>;
  violation?: string[];
};

type Src = 'acquire' | 'renew' | 'release';
type Timer = { id: string; event: AnyEventObject; due: number };
/** A request; `result` is the answer the server gave, its times absolute. */
type Op = { src: Src; input: LeaseRef; sent: number; applied?: number; result?: AnyEventObject };
type Watch = { event: AnyEventObject; due: number };
type Cand = { snap: LeaderSnapshot; timers: Timer[]; op?: Op; orphans: Op[]; watch?: Watch; crashed: boolean };
type Lease = { holder: number; term: number; rev: number; stamp: number };
type World = { now: number; rev: number; lease?: Lease; cands: Cand[]; crashes: number; stops: number; faults: number };
type Step = { world: World; label: string };

const identity = (i: number) => `c${i}`;

export function exploreLeaderElection(p: ModelParams): ModelResult {
  const memo = new Map<string, [LeaderSnapshot, AnyEventObject[]]>();
  let transitions = 0;

  /** The machine's next snapshot and actions, memoized on what they depend on. */
  const step = (snap: LeaderSnapshot, event: AnyEventObject): [LeaderSnapshot, AnyEventObject[]] => {
    const { knownRevision, term, revision } = snap.context;
    const e = Object.keys(event).length === 1 ? event.type : JSON.stringify(event);
    const k = `${machineKey(snap)} ${knownRevision} ${term} ${revision} ${e}`;
    let r = memo.get(k);
    if (!r) {
      r = transition(leaderMachine, snap, event as never) as unknown as [LeaderSnapshot, AnyEventObject[]];
      memo.set(k, r);
      transitions++;
    }
    return r;
  };

  /**
   * Feeds one event to candidate i and carries out what the machine asks (timers,
   * invokes). Times in events are relative to now: the machine only subtracts them.
   */
  const feed = (w: World, i: number, event: AnyEventObject): World => {
    const c = w.cands[i]!;
    const [snap, actions] = step(c.snap, event);
    let timers = c.timers;
    let op = c.op;
    let orphans = c.orphans;
    for (const a of actions) {
      const params = (a as { params?: Record<string, unknown> }).params ?? {};
      if (a.type === 'xstate.raise' && typeof params.delay === 'number') {
        timers = [...timers.filter((t) => t.id !== params.id), { id: String(params.id), event: params.event as AnyEventObject, due: w.now + params.delay }];
      } else if (a.type === 'xstate.cancel') {
        timers = timers.filter((t) => t.id !== params.sendId);
      } else if (a.type === 'xstate.spawnChild') {
        op = { src: params.src as Src, input: params.input as LeaseRef, sent: w.now };
      } else if (a.type === 'xstate.stopChild' && op && (params as { id?: string }).id === op.src) {
        // The caller gives up; a request not yet applied may still land.
        if (op.applied === undefined) orphans = [...orphans, op];
        op = undefined;
      }
    }
    return withCand(w, i, { ...c, snap, timers, op, orphans });
  };

  /** The server applies candidate i's request: the new world, and the answer the caller would get. */
  const apply = (w: World, i: number, op: Op): { world: World; result: AnyEventObject } => {
    const { now } = w;
    const live = w.lease;
    const done = (output: unknown) => ({ type: `xstate.done.actor.${op.src}`, output });
    const ours = live !== undefined && live.holder === i;
    let lease = w.lease;
    let rev = w.rev;
    let result: AnyEventObject;
    let news: AnyEventObject | undefined;
    if (op.src === 'acquire') {
      if (!live || ours) {
        rev++;
        // Re-acquiring its own key is an update the actor sends after the failed create: at worst, just now.
        lease = ours ? { ...live, rev, stamp: now } : { holder: i, term: rev, rev, stamp: now };
        result = done({ acquired: true, term: lease.term, revision: rev, sentMs: ours ? now : op.sent });
        news = holderEvent(lease);
      } else {
        result = done({ acquired: false, holder: holderOf(live) });
      }
    } else if (op.src === 'renew') {
      // A CAS on the revision; a mismatch while the key is still its own (an earlier
      // renewal that landed late) the actor follows with a fresh update at once.
      if (ours && live.term === op.input.term) {
        rev++;
        lease = { ...live, rev, stamp: now };
        result = done({ revision: rev, sentMs: live.rev === op.input.revision ? op.sent : now });
        news = holderEvent(lease);
      } else {
        result = { type: 'xstate.error.actor.renew', error: { reason: LEASE_LOST } };
      }
    } else {
      if (ours && live.term === op.input.term) {
        rev++;
        lease = undefined;
        news = { type: 'RELEASED', revision: rev };
      }
      result = done(undefined);
    }
    let cands = w.cands;
    if (news) cands = cands.map((c, j) => (j === i || c.crashed ? c : { ...c, watch: { event: news!, due: now + (p.watchDelay ?? p.maxDelay) } }));
    return { world: { ...w, rev, lease, cands }, result };
  };

  const successors = (w: World): Step[] => {
    const out: Step[] = [];
    const { now } = w;
    w.cands.forEach((c, i) => {
      if (c.crashed) return;
      const who = identity(i);
      for (const t of c.timers) {
        if (t.due > now) continue;
        const w1 = withCand(w, i, { ...c, timers: c.timers.filter((x) => x !== t) });
        out.push({ world: feed(w1, i, t.event), label: `${who} timer ${shortEvent(t.event.type)}` });
      }
      const op = c.op;
      if (op && op.applied === undefined) {
        const { world, result } = apply(w, i, op);
        out.push({ world: withCand(world, i, { ...world.cands[i]!, op: { ...op, applied: now, result } }), label: `server applies ${who} ${op.src}` });
        if (w.faults > 0) {
          const failed = withCand({ ...w, faults: w.faults - 1 }, i, { ...c, op: undefined });
          out.push({ world: feed(failed, i, errorEvent(op)), label: `${who} ${op.src} fails unapplied` });
        }
      }
      if (op && op.applied !== undefined) {
        const cleared = withCand(w, i, { ...c, op: undefined });
        out.push({ world: feed(cleared, i, answer(op.result!, now)), label: `${who} gets ${op.src} answer` });
        if (w.faults > 0) out.push({ world: feed({ ...cleared, faults: w.faults - 1 }, i, errorEvent(op)), label: `${who} loses ${op.src} answer` });
      }
      if (c.watch) {
        const cleared = withCand(w, i, { ...c, watch: undefined });
        out.push({ world: feed(cleared, i, relative(c.watch.event, now)), label: `${who} sees ${c.watch.event.type}` });
        if (w.faults > 0) out.push({ world: { ...cleared, faults: w.faults - 1 }, label: `${who} misses ${c.watch.event.type}` });
      }
      if (w.crashes > 0) {
        const orphans = c.op && c.op.applied === undefined ? [...c.orphans, c.op] : c.orphans;
        const crashed: Cand = { ...c, crashed: true, timers: [], op: undefined, watch: undefined, orphans };
        out.push({ world: withCand({ ...w, crashes: w.crashes - 1 }, i, crashed), label: `${who} crashes` });
      }
      if (w.stops > 0 && c.snap.status === 'active') out.push({ world: feed({ ...w, stops: w.stops - 1 }, i, { type: 'STOP' }), label: `${who} STOP` });
    });
    w.cands.forEach((c, i) => {
      c.orphans.forEach((o, n) => {
        const rest = withCand(w, i, { ...c, orphans: c.orphans.filter((_, m) => m !== n) });
        out.push({ world: apply(rest, i, o).world, label: `server applies ${identity(i)}'s abandoned ${o.src}` });
        out.push({ world: rest, label: `${identity(i)}'s abandoned ${o.src} is lost` });
      });
    });
    if (!overdue(w, p)) {
      const later = now + 1;
      // The server expires the key (silently: no watch event).
      const lease = w.lease && later < w.lease.stamp + p.timing.leaseMs ? w.lease : undefined;
      out.push({ world: { ...w, now: later, lease }, label: `— tick ${later}` });
    }
    return out;
  };

  let world: World = { now: 0, rev: 0, crashes: p.crashes, stops: p.stops, faults: p.faults, cands: [] };
  for (let i = 0; i < p.candidates; i++) {
    const [snap, actions] = initialTransition(leaderMachine, { identity: identity(i), ...p.timing });
    const spawn = (actions as AnyEventObject[]).find((a) => a.type === 'xstate.spawnChild') as unknown as { params: { src: Src; input: LeaseRef } };
    const op: Op = { src: spawn.params.src, input: spawn.params.input, sent: 0 };
    world = { ...world, cands: [...world.cands, { snap, timers: [], orphans: [], crashed: false, op }] };
  }

  // Every state seen, by key, with the index of the state it was reached from (for a trace).
  const seen = new Map<string, number>();
  const keys: string[] = [];
  const parent: number[] = [];
  const visit = (k: string, from: number) => {
    seen.set(k, keys.length);
    keys.push(k);
    parent.push(from);
  };
  const trace = (i: number) => {
    const path: string[] = [];
    for (let at = i; at >= 0; at = parent[at]!) path.push(keys[at]!);
    return path.reverse();
  };
  visit(worldKey(world), -1);
  const reached = new Set<string>();
  let frontier: [number, World][] = [[0, world]];
  while (frontier.length) {
    const next: [number, World][] = [];
    for (const [from, w] of frontier) {
      for (const s of successors(w)) {
        const k = worldKey(s.world);
        if (seen.has(k)) continue;
        visit(k, from);
        const leaders = s.world.cands.filter((c) => !c.crashed && c.snap.hasTag('leading')).length;
        if (leaders > 1) return { states: keys.length, transitions, reached, violation: replay(world, trace(keys.length - 1), successors) };
        if (leaders === 1) {
          reached.add('leader');
          // A candidate that crashed while leading, and another one leading now.
          if (s.world.cands.some((c) => c.crashed && c.snap.hasTag('leading'))) reached.add('takeover after crash');
          if (s.world.cands.some((c) => c.snap.status === 'done' && c.snap.context.term > 0)) reached.add('takeover after release');
        }
        if (p.maxStates && keys.length > p.maxStates) throw new Error(`more than ${p.maxStates} states: shrink the model`);
        next.push([keys.length - 1, s.world]);
      }
    }
    frontier = next;
  }
  return { states: keys.length, transitions, reached };
}

/** Something must happen before the clock may move on. */
function overdue(w: World, p: ModelParams): boolean {
  return w.cands.some(
    (c) =>
      (!c.crashed &&
        (c.timers.some((t) => t.due + p.maxPause <= w.now) ||
          (c.op !== undefined && (c.op.applied ?? c.op.sent) + p.maxDelay <= w.now) ||
          (c.watch !== undefined && c.watch.due <= w.now))) ||
      c.orphans.some((o) => o.sent + p.maxDelay <= w.now),
  );
}

function withCand(w: World, i: number, c: Cand): World {
  const cands = w.cands.slice();
  cands[i] = c;
  return { ...w, cands };
}

function holderOf(l: Lease) {
  return { identity: identity(l.holder), term: l.term, revision: l.rev, createdMs: l.stamp };
}

function holderEvent(l: Lease): AnyEventObject {
  return { type: 'HOLDER', holder: holderOf(l) };
}

/** An event or answer with its times made relative to now (which is 0 to the machine). */
function relative(event: AnyEventObject, now: number): AnyEventObject {
  const e = event as { holder?: { createdMs: number }; output?: Record<string, unknown> };
  if (e.holder) return { ...event, holder: { ...e.holder, createdMs: e.holder.createdMs - now }, nowMs: 0 };
  if (event.type === 'RELEASED') return { ...event, nowMs: 0 };
  return event;
}

/** The answer as the caller gets it: arriving now. */
function answer(result: AnyEventObject, now: number): AnyEventObject {
  const output = (result as { output?: Record<string, unknown> }).output;
  if (!output) return result;
  const holder = output.holder as { createdMs: number } | undefined;
  return {
    ...result,
    output: {
      ...output,
      ...(typeof output.sentMs === 'number' ? { sentMs: output.sentMs - now } : {}),
      ...(holder ? { holder: { ...holder, createdMs: holder.createdMs - now } } : {}),
      ackMs: 0,
      nowMs: 0,
    },
  };
}

function errorEvent(op: Op): AnyEventObject {
  return { type: `xstate.error.actor.${op.src}`, error: { reason: 'ServiceUnavailable' } };
}

function shortEvent(type: string): string {
  return type.replace(/^xstate\.after\./, '').replace(/\.leader\..*$/, '');
}

/**
 * What the machine's future depends on. The holder it remembers, the deadline
 * as a time and the delays are left out: the machine never reads them after the
 * transition that set them (the delays are then in the timers).
 */
const machineKeys = new WeakMap<LeaderSnapshot, string>();
function machineKey(s: LeaderSnapshot): string {
  let k = machineKeys.get(s);
  if (k === undefined) {
    k = `${JSON.stringify(s.value)}${s.status}`;
    machineKeys.set(s, k);
  }
  return k;
}

/**
 * Builds a state key: times relative to now; revisions kept as numbers among the
 * string parts, to be renamed by rank once all of them are known.
 */
class KeyWriter {
  readonly revs: number[] = [0];
  constructor(readonly now: number) {}
  t(x: number | undefined): string {
    return x === undefined ? '-' : String(x - this.now);
  }
  r(parts: (string | number)[], x: number | undefined): void {
    if (x === undefined) parts.push('-');
    else {
      this.revs.push(x);
      parts.push(x);
    }
  }
  event(parts: (string | number)[], e: AnyEventObject | undefined): void {
    if (!e) return void parts.push('-');
    const h = (e as { holder?: { term: number; revision: number; createdMs: number } }).holder;
    const o = (e as { output?: { acquired?: boolean; term?: number; revision?: number; sentMs?: number; holder?: typeof h } }).output;
    parts.push(e.type);
    if (h) {
      this.r(parts, h.term);
      this.r(parts, h.revision);
      parts.push(this.t(h.createdMs));
    } else if (e.type === 'RELEASED') this.r(parts, (e as unknown as { revision: number }).revision);
    else if (o) {
      parts.push(String(o.acquired));
      this.r(parts, o.term);
      this.r(parts, o.revision);
      parts.push(this.t(o.sentMs));
      if (o.holder) {
        this.r(parts, o.holder.term);
        this.r(parts, o.holder.revision);
        parts.push(this.t(o.holder.createdMs));
      }
    } else parts.push(String((e as { error?: { reason?: string } }).error?.reason));
  }
  op(parts: (string | number)[], o: Op | undefined): void {
    if (!o) return void parts.push('-');
    parts.push(o.src);
    this.r(parts, o.input.term);
    this.r(parts, o.input.revision);
    parts.push(this.t(o.sent), this.t(o.applied));
    this.event(parts, o.result);
  }
}

/**
 * A state, canonically: times relative to now, revisions by rank, identities
 * left out (the machine does not branch on them), whether each candidate holds
 * the key instead of its index, candidates sorted.
 */
function worldKey(w: World): string {
  const k = new KeyWriter(w.now);
  const lease: (string | number)[] = [];
  if (w.lease) {
    k.r(lease, w.lease.term);
    k.r(lease, w.lease.rev);
    lease.push(k.t(w.lease.stamp));
  }
  const cands = w.cands.map((c, i) => {
    const parts: (string | number)[] = [c.crashed ? 'X' : '', w.lease?.holder === i ? 'H' : '', machineKey(c.snap)];
    const { knownRevision, term, revision } = c.snap.context;
    k.r(parts, knownRevision);
    k.r(parts, term);
    k.r(parts, revision);
    parts.push(c.timers.map((x) => `${x.id}@${k.t(x.due)}`).sort().join(','));
    k.op(parts, c.op);
    for (const o of c.orphans) k.op(parts, o);
    if (c.watch) {
      k.event(parts, c.watch.event);
      parts.push(k.t(c.watch.due));
    }
    return parts;
  });
  const rank = new Map([...new Set(k.revs)].sort((a, b) => a - b).map((x, n) => [x, n]));
  const text = (parts: (string | number)[]) => parts.map((x) => (typeof x === 'number' ? `#${rank.get(x)}` : x)).join(' ');
  return `${text(lease)} ${w.crashes}${w.stops}${w.faults}|${cands.map(text).sort().join('|')}`;
}

/** A step with the time and every candidate's state after it. */
function describe(label: string, w: World): string {
  const states = w.cands.map((c, i) => `${identity(i)}=${c.crashed ? 'crashed' : stateName(c.snap)}`).join(' ');
  return `t=${w.now} ${label.padEnd(36)} ${states}`;
}

/** Walks the path of keys again from the start, describing each step (only states are kept while exploring). */
function replay(start: World, keys: string[], successors: (w: World) => Step[]): string[] {
  let w = start;
  const out = [describe('start', w)];
  for (const key of keys.slice(1)) {
    const s = successors(w).find((x) => worldKey(x.world) === key)!;
    out.push(describe(s.label, s.world));
    w = s.world;
  }
  return out;
}

function stateName(s: LeaderSnapshot): string {
  const v = s.value;
  return typeof v === 'string' ? v : Object.keys(v)[0]!;
}
