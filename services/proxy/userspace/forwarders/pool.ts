/**
 * The backend's forwarder processes: Node.js runs JavaScript on one core, so
 * a proxy that forwards in one process is capped at one core, where haproxy
 * or kube-proxy use them all. The backend shares each TCP listening socket
 * with `size` forwarder processes (forwarder.main.ts); the kernel gives each
 * new connection to the first process that accepts, so a busy one takes fewer.
 *
 * The backend stays the one place of truth: it sends every TCP service port
 * (with its endpoints) to the forwarders, and shares only listeners whose
 * service port has no ClientIP affinity, because affinity is a memory of
 * which client went where that must be in one process. Round robin is kept
 * per process. A forwarder that dies is started again (back-off 0.25–10 s)
 * and sent the service ports and listeners anew; its connections are lost,
 * as they would be with a crashed proxy.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { dirname, extname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ServicePort } from '../../types.js';
import type { ListenSpec } from '../listen-plan.js';
import type { RouteCounters } from '../route.js';
import type { CounterRow, ForwarderConfig, FromForwarder, ToForwarder } from './protocol.js';

export type PoolOptions = {
  size: number;
  connectTimeoutMs: number;
  maxConnectTries: number;
  /** Every TCP service port the backend has now, for a forwarder that (re)starts. */
  routes: () => ServicePort[];
  log: (message: string) => void;
  /** How often forwarders report changed counters. Default 250 ms (the backend's demand samples count their connections too). */
  reportEveryMs?: number;
};

type Counts = Pick<RouteCounters, 'accepted' | 'failed' | 'activeConnections'>;
const noCounts = (): Counts => ({ accepted: 0, failed: 0, activeConnections: 0 });

/** An unlisten waiting for these forwarders' answers. */
type Unlisten = { waiting: Set<Forwarder>; done: () => void };

const UNLISTEN_TIMEOUT_MS = 2_000;
const STOP_GRACE_MS = 2_000;
const RESTART_MIN_MS = 250;
const RESTART_MAX_MS = 10_000;

export class ForwarderPool {
  private readonly forwarders: Forwarder[] = [];
  private readonly shared = new Map<string, { spec: ListenSpec; server: net.Server }>();
  private readonly unlistens = new Map<number, Unlisten>();
  /** accepted and failed of forwarders that exited, so totals never go back. */
  private readonly retired = new Map<string, Counts>();
  private nextId = 0;
  private acceptedTotal = 0;
  private started = false;
  private stopped = false;

  constructor(private readonly options: PoolOptions) {}

  /** Service ports changed (TCP only). Before the first share nothing runs, and nothing needs telling. */
  routesChanged(upsert: ServicePort[], remove: string[]): void {
    if (upsert.length === 0 && remove.length === 0) return;
    // A removed port's counts go with it (one made again with its name starts from 0).
    for (const key of remove) {
      this.retired.delete(key);
      for (const f of this.forwarders) f.counters.delete(key);
    }
    for (const f of this.ready()) f.send({ t: 'routes', upsert, remove });
  }

  isShared(key: string): boolean {
    return this.shared.has(key);
  }

  /** Lets the forwarders accept on `server` too (started on the first call). */
  share(spec: ListenSpec, server: net.Server): void {
    if (this.stopped) return;
    this.shared.set(spec.key, { spec, server });
    this.start();
    for (const f of this.ready()) f.send({ t: 'listen', spec }, server);
  }

  /** The forwarders stop accepting on `key`; resolves once each has closed its copy of the socket (so the port can be bound again). */
  unshare(key: string): Promise<void> {
    if (!this.shared.delete(key)) return Promise.resolve();
    // One still starting has been sent nothing yet: it will not be sent this socket.
    const waiting = new Set(this.ready());
    if (waiting.size === 0) return Promise.resolve();
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.options.log(`proxy: forwarders did not let go of ${key} in ${UNLISTEN_TIMEOUT_MS} ms`);
        done();
      }, UNLISTEN_TIMEOUT_MS).unref();
      const done = () => {
        clearTimeout(timer);
        this.unlistens.delete(id);
        resolve();
      };
      this.unlistens.set(id, { waiting, done });
      for (const f of waiting) f.send({ t: 'unlisten', key, id });
    });
  }

  /** What the forwarders counted for one service port: their last reports plus those of forwarders gone. */
  counters(key: string): Counts | undefined {
    let sum: Counts | undefined = this.retired.get(key) && { ...this.retired.get(key)! };
    for (const f of this.forwarders) {
      const c = f.counters.get(key);
      if (!c) continue;
      sum ??= noCounts();
      sum.accepted += c.accepted;
      sum.failed += c.failed;
      sum.activeConnections += c.activeConnections;
    }
    return sum;
  }

  /** Connections the forwarders accepted since start, as last reported: never goes back. */
  accepted(): number {
    return this.acceptedTotal;
  }

  /** Forwarder processes running now (for stats). */
  get running(): number {
    return this.ready().length;
  }

  /** Stops every forwarder (their connections are cut); resolves once all have exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.shared.clear();
    for (const u of [...this.unlistens.values()]) u.done();
    await Promise.all(this.forwarders.map((f) => f.stop()));
  }

  /** Starts the forwarder processes, once; they accept on what is shared from then on. */
  private start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (let i = 0; i < this.options.size; i++) {
      const f = new Forwarder(this.options, (message) => this.received(f, message), () => this.exited(f));
      this.forwarders.push(f);
      f.spawn();
    }
  }

  /**
   * Forwarders told of every change. One is sent nothing before it says it is
   * ready: a socket sent to a process not yet listening for messages would
   * accept connections nobody handles.
   */
  private ready(): Forwarder[] {
    return this.forwarders.filter((f) => f.ready);
  }

  private received(f: Forwarder, message: FromForwarder): void {
    switch (message.t) {
      case 'ready':
        // All it must know, in order: service ports, then sockets.
        f.ready = true;
        f.send({ t: 'routes', upsert: this.options.routes(), remove: [] });
        for (const { spec, server } of this.shared.values()) f.send({ t: 'listen', spec }, server);
        return;
      case 'log':
        return this.options.log(message.message);
      case 'counters':
        for (const row of message.rows) this.acceptedTotal += f.count(row);
        return;
      case 'unlistened':
        return this.answered(f, message.id);
    }
  }

  private answered(f: Forwarder, id: number): void {
    const u = this.unlistens.get(id);
    if (!u) return;
    u.waiting.delete(f);
    if (u.waiting.size === 0) u.done();
  }

  private exited(f: Forwarder): void {
    for (const [key, c] of f.counters) {
      const r = this.retired.get(key) ?? noCounts();
      r.accepted += c.accepted;
      r.failed += c.failed;
      this.retired.set(key, r);
    }
    f.counters.clear();
    // A dead forwarder holds no socket any more: it answers every unlisten.
    for (const id of [...this.unlistens.keys()]) this.answered(f, id);
    if (this.stopped) return;
    const delay = f.nextRestartDelay();
    this.options.log(`proxy: forwarder ${f.lastPid} exited (${f.exitReason}); starting another in ${delay} ms`);
    f.restartTimer = setTimeout(() => {
      if (!this.stopped) f.spawn();
    }, delay).unref();
  }
}

/** One forwarder slot: its current process, its counters, its restart back-off. */
class Forwarder {
  ready = false;
  readonly counters = new Map<string, Counts>();
  restartTimer: NodeJS.Timeout | undefined;
  exitReason = '';
  private child: ChildProcess | undefined;
  private exitedPromise: Promise<void> = Promise.resolve();
  private failures = 0;
  private startedAt = 0;

  constructor(
    private readonly options: PoolOptions,
    private readonly onMessage: (message: FromForwarder) => void,
    private readonly onExit: () => void,
  ) {}

  /** The pid of its process, or of the last one. */
  lastPid: number | undefined;

  spawn(): void {
    const config: ForwarderConfig = {
      connectTimeoutMs: this.options.connectTimeoutMs,
      maxConnectTries: this.options.maxConnectTries,
      reportEveryMs: this.options.reportEveryMs ?? 250,
    };
    const entry = forwarderEntry();
    let child: ChildProcess;
    try {
      child = fork(entry.path, [JSON.stringify(config)], { execArgv: entry.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    } catch (err) {
      // As if it had started and died at once: the pool logs it and tries again later.
      this.exitReason = String(err);
      return this.onExit();
    }
    this.child = child;
    this.lastPid = child.pid;
    this.startedAt = performance.now();
    child.on('message', (message) => this.onMessage(message as FromForwarder));
    child.on('error', (err) => (this.exitReason = err.message));
    // 'close', not 'exit': a process that could not be spawned emits 'error' and 'close' only; and after
    // 'close' no message of it can arrive late (its counts move to `retired` once).
    this.exitedPromise = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.ready = false;
        this.child = undefined;
        this.exitReason ||= signal ? `signal ${signal}` : `code ${code}`;
        this.onExit();
        resolve();
      }),
    );
    this.exitReason = '';
  }

  send(message: ToForwarder, handle?: net.Server): void {
    const child = this.child;
    if (!child?.connected) return;
    // A send that fails (the child just died) is followed by its 'exit': the restart sends everything again.
    child.send(message, handle, undefined, () => {});
  }

  /** Takes a report's row; returns how many more connections it accepted than reported before. */
  count([key, accepted, failed, activeConnections]: CounterRow): number {
    const before = this.counters.get(key)?.accepted ?? 0;
    this.counters.set(key, { accepted, failed, activeConnections });
    return Math.max(0, accepted - before);
  }

  /** The wait before the next start: doubling while it keeps dying young, back to the minimum once it lived a minute. */
  nextRestartDelay(): number {
    this.failures = performance.now() - this.startedAt > 60_000 ? 1 : this.failures + 1;
    return Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (this.failures - 1));
  }

  async stop(): Promise<void> {
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return;
    // One not ready yet has no handler for the message: nothing of it to let finish either.
    if (this.ready) this.send({ t: 'stop' });
    else child.kill('SIGKILL');
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exitedPromise;
    clearTimeout(killer);
  }
}

/** The forwarder's entry beside this file: compiled JavaScript, or TypeScript run through tsx (a source checkout). */
function forwarderEntry(): { path: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const path = join(dirname(here), `forwarder.main${ext}`);
  // tsx by its resolved file, so that it loads whatever the working directory.
  return { path, execArgv: ext === '.ts' ? ['--import', pathToFileURL(createRequire(here).resolve('tsx')).href] : [] };
}
