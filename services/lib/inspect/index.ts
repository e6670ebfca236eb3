/**
 * Live inspection of a component's actors (protos/inspect.proto). A component
 * makes one Inspector on its NATS connection and hands `track(...)` to each
 * actor it creates (`createActor(machine, { inspect })`): every change of the
 * actor's state is published on keelson.inspect.transitions.<kind>, and the
 * inspector answers keelson.inspect.states with each actor's state and its
 * last transitions.
 *
 * Bounded so a busy cluster is not slowed: at most `ratePerSecond` messages
 * (default 200) leave a component; beyond that an actor's transitions are
 * folded into one (first `from`, last `to`, `skipped` counts the rest), and
 * sent as the budget refills. Publishing never waits and never throws.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { InspectionEvent } from 'xstate';
import { decodeMessage, encodeMessage } from '../codec/index.js';

export const INSPECT_PREFIX = 'keelson.inspect';
export const TRANSITIONS_SUBJECT = `${INSPECT_PREFIX}.transitions`;
export const STATES_SUBJECT = `${INSPECT_PREFIX}.states`;

export type Transition = {
  component: string;
  actor: string;
  machine: string;
  from: string;
  to: string;
  event: string;
  time: string;
  skipped?: number;
};

export type ActorState = { component: string; actor: string; machine: string; state: string; since: string; history: Transition[] };

export type Tracked = {
  /** For `createActor(machine, { inspect })`. */
  inspect(ev: InspectionEvent): void;
  /** The actor is gone (stopped for good): says so, and forgets it. */
  done(): void;
};

export interface Inspector {
  track(actor: string, machine: string): Tracked;
}

/** For components started without inspection (unit tests, embedded uses). */
export const NO_INSPECTION: Inspector = { track: () => ({ inspect: () => undefined, done: () => undefined }) };

/** A state value as dotted leaf paths: "Running.Up.Startup.Started, Running.Up.Uptime.Stable". */
export function stateString(value: unknown): string {
  const leaves: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (typeof v === 'string') leaves.push(path ? `${path}.${v}` : v);
    else if (v && typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length === 0 && path) leaves.push(path);
      for (const [k, child] of entries) walk(child, path ? `${path}.${k}` : k);
    }
  };
  walk(value, '');
  return leaves.join(', ');
}

export type InspectorOptions = {
  /** Messages per second this component may publish (default 200). */
  ratePerSecond?: number;
  /** Transitions kept per actor for late joiners (default 10). */
  historySize?: number;
  /** Where messages go (default: publish on the connection). */
  publish?: (subject: string, data: Uint8Array) => void;
};

type Actor = { machine: string; state: string; since: string; history: Transition[] };

export class NatsInspector implements Inspector {
  private readonly actors = new Map<string, Actor>();
  /** Transitions waiting for budget, folded per actor. */
  private readonly pending = new Map<string, Transition>();
  private tokens: number;
  private refill?: NodeJS.Timeout;
  private readonly subject: string;
  private readonly publish: (subject: string, data: Uint8Array) => void;
  private nc?: NatsConnection;
  private sub?: Subscription;

  /** Records from the start; publishes and answers once attached to a connection. */
  constructor(
    readonly component: string,
    private readonly opts: InspectorOptions = {},
  ) {
    this.tokens = this.rate;
    this.subject = `${TRANSITIONS_SUBJECT}.${component.split('/')[0]}`;
    this.publish =
      opts.publish ??
      ((subject, data) => {
        try {
          if (this.nc && !this.nc.isClosed()) this.nc.publish(subject, data);
        } catch {
          // A closed or draining connection: inspection is best effort.
        }
      });
  }

  /** Publishes on `nc` from now on, and answers state requests there (a new connection replaces the old). */
  attach(nc: NatsConnection): void {
    this.sub?.unsubscribe();
    this.nc = nc;
    this.sub = nc.subscribe(STATES_SUBJECT, {
      callback: (err, msg) => {
        if (err) return;
        try {
          msg.respond(encodeMessage('keelson.inspect.v1.StatesReply', { component: this.component, actors: this.states() }));
        } catch {
          // The requester is gone.
        }
      },
    });
  }

  private get rate(): number {
    return this.opts.ratePerSecond ?? 200;
  }

  track(actor: string, machine: string): Tracked {
    let rootId: string | undefined;
    // XState tells subscribers before inspectors: an owner that drops its actor on
    // the final snapshot calls done() before that snapshot is inspected. So done()
    // lets the inspection under way finish (the final state is reported) first.
    let closing = false;
    let finished = false;
    /** The record this actor made (tracked names are reused by re-created actors). */
    let mine: Actor | undefined;
    return {
      inspect: (ev) => {
        if (finished || ev.type !== '@xstate.snapshot') return;
        // Only the actor itself, not what it invokes (those are not statecharts).
        rootId ??= ev.rootId;
        if (ev.actorRef.sessionId !== rootId) return;
        const to = stateString((ev.snapshot as { value?: unknown }).value);
        const known = this.actors.get(actor);
        if (known?.state === to) return;
        this.record({ actor, machine, from: known?.state ?? '', to, event: ev.event.type });
        mine = this.actors.get(actor);
      },
      done: () => {
        if (closing) return;
        closing = true;
        queueMicrotask(() => {
          finished = true;
          const known = this.actors.get(actor);
          // Only this actor's record: a new actor of the same name may have replaced it.
          if (known && known === mine) this.record({ actor, machine, from: known.state, to: '', event: 'stopped' });
        });
      },
    };
  }

  /** Every tracked actor's state, with its recent history. */
  states(): ActorState[] {
    return [...this.actors].map(([actor, a]) => ({ component: this.component, actor, machine: a.machine, state: a.state, since: a.since, history: a.history }));
  }

  async stop(): Promise<void> {
    clearInterval(this.refill);
    this.refill = undefined;
    try {
      this.sub?.unsubscribe();
    } catch {
      // Its connection is closed already.
    }
    this.sub = undefined;
    this.nc = undefined;
  }

  private record(t: Omit<Transition, 'component' | 'time'>): void {
    const time = new Date().toISOString();
    const transition: Transition = { component: this.component, ...t, time };
    if (t.to === '') this.actors.delete(t.actor);
    else {
      const a = this.actors.get(t.actor) ?? { machine: t.machine, state: '', since: time, history: [] };
      a.state = t.to;
      a.since = time;
      a.history.push(transition);
      if (a.history.length > (this.opts.historySize ?? 10)) a.history.shift();
      this.actors.set(t.actor, a);
    }
    this.send(transition);
  }

  private send(t: Transition): void {
    const waiting = this.pending.get(t.actor);
    if (waiting) {
      // Fold: the reader sees where the actor came from and where it is now.
      this.pending.set(t.actor, { ...t, from: waiting.from, skipped: (waiting.skipped ?? 0) + 1 });
      return;
    }
    if (this.tokens > 0) {
      this.tokens--;
      this.publish(this.subject, encodeMessage('keelson.inspect.v1.Transition', t));
    } else this.pending.set(t.actor, t);
    this.refill ??= setInterval(() => this.onRefill(), 100);
    this.refill.unref();
  }

  private onRefill(): void {
    this.tokens = Math.min(this.rate, this.tokens + this.rate / 10);
    for (const [actor, t] of this.pending) {
      if (this.tokens < 1) break;
      this.tokens--;
      this.pending.delete(actor);
      this.publish(this.subject, encodeMessage('keelson.inspect.v1.Transition', t));
    }
    if (this.pending.size === 0 && this.tokens >= this.rate) {
      clearInterval(this.refill);
      this.refill = undefined;
    }
  }
}

/** Starts inspection of a component's actors on its NATS connection. */
export function startInspector(nc: NatsConnection, component: string, opts?: InspectorOptions): NatsInspector {
  const inspector = new NatsInspector(component, opts);
  inspector.attach(nc);
  return inspector;
}

export function decodeTransition(data: Uint8Array): Transition {
  return decodeMessage('keelson.inspect.v1.Transition', data) as unknown as Transition;
}

/**
 * Asks every component for its actors' states (a late joiner's start), and
 * gathers the answers until none came for `quietMs` or `maxMs` passed.
 */
export async function gatherStates(nc: NatsConnection, opts: { maxMs?: number; quietMs?: number } = {}): Promise<ActorState[]> {
  const out: ActorState[] = [];
  const replies = await nc.requestMany(STATES_SUBJECT, encodeMessage('keelson.inspect.v1.StatesRequest', {}), {
    maxWait: opts.maxMs ?? 1_500,
    strategy: 'stall',
    stall: opts.quietMs ?? 300,
  });
  try {
    for await (const m of replies) {
      try {
        const r = decodeMessage('keelson.inspect.v1.StatesReply', m.data) as unknown as { actors?: ActorState[] };
        for (const a of r.actors ?? []) out.push({ ...a, history: a.history ?? [] });
      } catch {
        // Not an inspector's answer.
      }
    }
  } catch (e) {
    // No component listens (nothing runs yet): no actors, not an error.
    if (!(e instanceof Error && /no responders/i.test(`${e.name} ${e.message}`))) throw e;
  }
  return out;
}
