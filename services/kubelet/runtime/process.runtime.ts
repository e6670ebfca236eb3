/**
 * The process runtime: each container is a child process running the spec's
 * command + args on the host (there is no image: `ensureImage` only records the
 * name), for machines without Docker.
 *
 * Output goes through two FIFOs per container into a CRI-format log file under the
 * data dir, so logs carry timestamps, survive the container (`--previous`) and
 * survive the kubelet. Processes start detached, as leaders of their own process
 * group, so SIGKILL reaches every process the container started, and a kubelet restart leaves them
 * running: the next runtime instance reads the state file and adopts every process
 * whose PID still names the same process (PID + /proc start time).
 *
 * Limits, by design: no isolation at all (no namespaces, no cgroups: resources are
 * not enforced, ports are the host's, every sandbox IP is 127.0.0.1, volumes are
 * not mounted); `tty` is ignored; an adopted process's exit code is lost (it is no
 * longer our child), so it is reported without one, reason `ContainerStatusUnknown`;
 * while no kubelet runs, a process that writes more than 64 KiB of output waits
 * for the next kubelet to drain its FIFO.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch, platform, release } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { readCriLog, CriLogWriter } from './cri-log.js';
import { EventHub, nowRfc3339 } from './event-hub.js';
import { SANDBOX_CONTAINER } from './labels.js';
import { normalizeImage, podNamespace, type Container, type Pod } from './pod-spec.js';
import { exitCodeOf, isSameProcess, mkfifo, openFifoForChild, openFifoReader, processStartTime, signalGroup, signalProcess } from './process-host.js';
import { ProcessStateStore, toManaged, type ProcessRecord } from './process-state.js';
import {
  RuntimeError,
  type ContainerRuntime,
  type CreateContainerOptions,
  type ExecOptions,
  type ExecSession,
  type ImageSummary,
  type LogOptions,
  type ManagedContainer,
  type RuntimeEventListener,
  type RuntimeEventType,
  type RuntimeInfo,
  type Sandbox,
  type Unsubscribe,
} from './types.js';
import { createEmptyDirs, podDir } from './volumes.js';

export type ProcessRuntimeOptions = {
  /** Folder for the state file, logs and per-pod folders. */
  dataDir: string;
  /** Notes about what the runtime skips. Default: none. */
  log?: (message: string) => void;
};

/** A record plus what only this kubelet instance holds. */
type Proc = {
  rec: ProcessRecord;
  child?: ChildProcess;
  writer?: CriLogWriter;
  /** The FIFO readers feeding the writer. */
  writerSources?: Readable[];
  /** Resolves when the record turns `exited`. */
  exited: Promise<void>;
  markExited: () => void;
  /** For adopted processes whose exit cannot be observed otherwise. */
  livenessTimer?: NodeJS.Timeout;
};

const VERSION = '0.1.0';
/** How long an exit waits for the last output to reach the log before it is announced. */
const DRAIN_MS = 300;

export class ProcessRuntime implements ContainerRuntime {
  readonly name = 'process' as const;
  private readonly procs = new Map<string, Proc>();
  private readonly images = new Set<string>();
  private readonly hub: EventHub;
  private readonly store: ProcessStateStore;
  private readonly dataDir: string;
  private readonly log: (message: string) => void;
  private closed = false;

  private constructor(options: ProcessRuntimeOptions) {
    this.dataDir = resolve(options.dataDir);
    this.log = options.log ?? (() => {});
    this.hub = new EventHub((err) => this.log(`runtime event listener failed: ${String(err)}`));
    this.store = new ProcessStateStore(join(this.dataDir, 'process'));
  }

  /** Opens the runtime and adopts what a previous instance left running. */
  static async open(options: ProcessRuntimeOptions): Promise<ProcessRuntime> {
    const rt = new ProcessRuntime(options);
    rt.adopt();
    return rt;
  }

  async info(): Promise<RuntimeInfo> {
    return {
      name: 'process',
      version: `process://${VERSION}`,
      operatingSystem: platform(),
      osImage: osImage(),
      kernelVersion: release(),
      architecture: arch() === 'x64' ? 'amd64' : arch(),
    };
  }

  async listImages(): Promise<ImageSummary[]> {
    return [...this.images].map((name) => ({ names: [name], sizeBytes: 0 }));
  }

  async ensureImage(image: string): Promise<{ imageID: string }> {
    const ref = normalizeImage(image);
    this.images.add(ref);
    return { imageID: imageIdOf(ref) };
  }

  async createSandbox(pod: Pod): Promise<Sandbox> {
    const existing = this.podProcs(pod.metadata.uid).find((p) => p.rec.kind === 'sandbox' && p.rec.state === 'running');
    if (existing) return { id: existing.rec.id, ip: existing.rec.ip! };
    const dir = podDir(this.dataDir, pod.metadata.uid);
    mkdirSync(dir, { recursive: true });
    createEmptyDirs(this.dataDir, pod);
    const attempts = this.podProcs(pod.metadata.uid).filter((p) => p.rec.kind === 'sandbox').length;
    const now = nowRfc3339();
    const rec: ProcessRecord = {
      ...this.identity(pod, SANDBOX_CONTAINER, attempts),
      kind: 'sandbox',
      image: 'pause',
      imageID: imageIdOf('pause'),
      state: 'running',
      command: [],
      env: {},
      workingDir: dir,
      createdAt: now,
      startedAt: now,
      ip: '127.0.0.1',
    };
    this.add(rec);
    this.save();
    this.emit(rec, 'started');
    return { id: rec.id, ip: rec.ip! };
  }

  async createContainer(pod: Pod, container: Container, sandbox: Sandbox, options: CreateContainerOptions = {}): Promise<string> {
    if (!this.procs.get(sandbox.id)) throw new RuntimeError('CreateContainerError', `sandbox ${sandbox.id} does not exist`);
    const command = [...(container.command ?? []), ...(container.args ?? [])];
    if (command.length === 0) {
      throw new RuntimeError(
        'CreateContainerConfigError',
        `container "${container.name}": the process runtime runs command + args on the host and has no image entrypoint; give a command`,
      );
    }
    if (container.volumeMounts?.length) this.log(`container "${container.name}": volumeMounts are not mounted by the process runtime`);
    if (container.resources?.limits) this.log(`container "${container.name}": resource limits are not enforced by the process runtime`);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: process.env.HOME ?? '/',
      HOSTNAME: pod.metadata.name,
    };
    for (const e of container.env ?? []) {
      if (e.valueFrom !== undefined && e.value === undefined) this.log(`container "${container.name}": env ${e.name} uses valueFrom; skipped`);
      else env[e.name] = e.value ?? '';
    }
    const siblings = this.podProcs(pod.metadata.uid).filter((p) => p.rec.container === container.name);
    const attempt = options.attempt ?? siblings.reduce((m, p) => Math.max(m, p.rec.attempt + 1), 0);
    const ref = normalizeImage(container.image ?? 'none');
    const rec: ProcessRecord = {
      ...this.identity(pod, container.name, attempt),
      kind: 'container',
      image: ref,
      imageID: imageIdOf(ref),
      state: 'created',
      command,
      env,
      workingDir: container.workingDir ?? podDir(this.dataDir, pod.metadata.uid),
      createdAt: nowRfc3339(),
      sandboxId: sandbox.id,
    };
    const dir = this.store.containerDir(rec.id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'container.log'), '');
    this.add(rec);
    this.save();
    return rec.id;
  }

  async startContainer(id: string): Promise<void> {
    const p = this.get(id);
    const rec = p.rec;
    if (rec.state === 'running') return;
    if (rec.state === 'exited') throw new RuntimeError('RunContainerError', `container ${id} has exited; create a new one`);
    if (!isDirectory(rec.workingDir)) throw new RuntimeError('RunContainerError', `container "${rec.container}": workingDir ${rec.workingDir} does not exist on this host`);
    const dir = this.store.containerDir(id);
    const fifos = { stdout: join(dir, 'stdout.fifo'), stderr: join(dir, 'stderr.fifo') };
    for (const f of Object.values(fifos)) if (!existsSync(f)) mkfifo(f);
    // Order matters: the write ends first (so the readers do not see EOF at once), then
    // the readers (before the child can exit: a FIFO drops its data once nobody holds it).
    const out = openFifoForChild(fifos.stdout);
    const err = openFifoForChild(fifos.stderr);
    let child: ChildProcess;
    try {
      this.attachLogs(p, fifos);
      child = spawn(rec.command[0]!, rec.command.slice(1), { cwd: rec.workingDir, env: rec.env, detached: true, stdio: ['ignore', out, err] });
      await new Promise<void>((ok, fail) => {
        child.once('spawn', ok);
        child.once('error', fail);
      });
    } catch (e) {
      p.writerSources?.forEach((s) => s.destroy());
      throw new RuntimeError('RunContainerError', `container "${rec.container}": cannot run ${rec.command[0]}: ${(e as Error).message}`, { cause: e });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    child.on('error', (e) => this.log(`container ${id}: ${e.message}`));
    child.once('exit', (code, signal) => this.finish(p, exitCodeOf(code, signal)));
    child.unref();
    p.child = child;
    rec.pid = child.pid!;
    rec.pidStart = processStartTime(rec.pid);
    rec.state = 'running';
    rec.startedAt = nowRfc3339();
    this.save();
    this.emit(rec, 'started');
  }

  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    const p = this.get(id);
    if (p.rec.state !== 'running' || p.rec.pid === undefined) return;
    const pid = p.rec.pid;
    // As a container engine does: SIGTERM to the main process only, SIGKILL to all of them.
    signalProcess(pid, 'SIGTERM');
    const kill = setTimeout(() => {
      signalGroup(pid, 'SIGKILL');
      if (!p.child) this.watchLiveness(p, 200);
    }, Math.max(0, graceSeconds) * 1000);
    if (!p.child) this.watchLiveness(p, 1000);
    await p.exited;
    clearTimeout(kill);
  }

  async removeContainer(id: string): Promise<void> {
    const p = this.procs.get(id);
    if (!p) return;
    if (p.rec.state === 'running' && p.rec.kind === 'container' && p.rec.pid !== undefined) {
      signalGroup(p.rec.pid, 'SIGKILL');
      if (!p.child) this.watchLiveness(p, 100);
      await p.exited;
    }
    clearInterval(p.livenessTimer);
    this.procs.delete(id);
    rmSync(this.store.containerDir(id), { recursive: true, force: true });
    this.save();
  }

  async removeSandbox(podUid: string): Promise<void> {
    const all = this.podProcs(podUid);
    await Promise.all(all.filter((p) => p.rec.kind === 'container').map((p) => this.removeContainer(p.rec.id)));
    for (const p of all.filter((q) => q.rec.kind === 'sandbox')) this.procs.delete(p.rec.id);
    rmSync(podDir(this.dataDir, podUid), { recursive: true, force: true });
    this.save();
  }

  async listManaged(): Promise<ManagedContainer[]> {
    return [...this.procs.values()].map((p) => toManaged(p.rec));
  }

  events(listener: RuntimeEventListener): Unsubscribe {
    return this.hub.subscribe(listener);
  }

  async logs(id: string, options: LogOptions = {}): Promise<Readable> {
    const p = this.get(id);
    const drained = p.exited.then(() => (p.writer ? Promise.race([p.writer.done, delay(DRAIN_MS)]) : undefined));
    let finished = p.rec.state === 'exited' || p.rec.kind === 'sandbox';
    void drained.then(() => (finished = true));
    return readCriLog(join(this.store.containerDir(id), 'container.log'), options, {
      finished: () => finished,
      whenFinished: drained,
    });
  }

  async exec(id: string, command: string[], options: ExecOptions = {}): Promise<ExecSession> {
    const { rec } = this.get(id);
    if (rec.state !== 'running' || rec.kind !== 'container') throw new RuntimeError('RunContainerError', `container ${id} is not running; cannot exec`);
    if (command.length === 0) throw new RuntimeError('RunContainerError', 'exec needs a command');
    const child = spawn(command[0]!, command.slice(1), {
      cwd: rec.workingDir,
      env: rec.env,
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((ok, fail) => {
        child.once('spawn', ok);
        child.once('error', fail);
      });
    } catch (e) {
      throw new RuntimeError('RunContainerError', `exec ${command[0]}: ${(e as Error).message}`, { cause: e });
    }
    child.on('error', () => {}); // a failed kill of an exited command is no news
    const exitCode = new Promise<number>((ok) => child.once('close', (code, signal) => ok(exitCodeOf(code, signal))));
    return { stdout: child.stdout!, stderr: child.stderr!, ...(child.stdin ? { stdin: child.stdin } : {}), exitCode };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.save();
    this.closed = true;
    this.hub.clear();
    // Hand everything over to the next instance: no more exit handling or state writes here.
    for (const p of this.procs.values()) {
      p.child?.removeAllListeners('exit');
      clearInterval(p.livenessTimer);
      p.writerSources?.forEach((s) => s.destroy());
    }
  }

  // ---- internals ----

  private identity(pod: Pod, container: string, attempt: number) {
    return {
      id: randomBytes(16).toString('hex'),
      podUid: pod.metadata.uid,
      podName: pod.metadata.name,
      namespace: podNamespace(pod),
      container,
      attempt,
    };
  }

  private add(rec: ProcessRecord): Proc {
    let markExited!: () => void;
    const exited = new Promise<void>((ok) => (markExited = ok));
    const p: Proc = { rec, exited, markExited };
    if (rec.state === 'exited') markExited();
    this.procs.set(rec.id, p);
    return p;
  }

  private get(id: string): Proc {
    const p = this.procs.get(id);
    if (!p) throw new RuntimeError('ContainerNotFound', `no such container: ${id}`);
    return p;
  }

  private podProcs(podUid: string): Proc[] {
    return [...this.procs.values()].filter((p) => p.rec.podUid === podUid);
  }

  /** After close() the next instance owns the state file: no more writes. */
  private save(): void {
    if (!this.closed) this.store.save([...this.procs.values()].map((p) => p.rec));
  }

  private emit(rec: ProcessRecord, type: RuntimeEventType): void {
    const ev = { id: rec.id, podUid: rec.podUid, container: rec.container, type, at: nowRfc3339() };
    this.hub.emit(type === 'exited' && rec.exitCode !== undefined ? { ...ev, exitCode: rec.exitCode } : ev);
  }

  /** Records the exit, then announces it once the last output reached the log. */
  private finish(p: Proc, exitCode: number | undefined): void {
    if (p.rec.state === 'exited' || this.closed) return;
    clearInterval(p.livenessTimer);
    const rec = p.rec;
    rec.state = 'exited';
    rec.finishedAt = nowRfc3339();
    if (exitCode !== undefined) rec.exitCode = exitCode;
    rec.reason = exitCode === undefined ? 'ContainerStatusUnknown' : exitCode === 0 ? 'Completed' : 'Error';
    // The main process is gone: like a container, take everything it started with it.
    // (Linux does not hand out a PID still in use as a process group ID.)
    if (rec.pid !== undefined) signalGroup(rec.pid, 'SIGKILL');
    this.save();
    p.markExited();
    const drained = p.writer ? Promise.race([p.writer.done, delay(DRAIN_MS)]) : Promise.resolve();
    void drained.then(() => this.emit(rec, 'exited'));
  }

  private attachLogs(p: Proc, fifos: { stdout: string; stderr: string }, adopted = false): void {
    const writer = new CriLogWriter(join(this.store.containerDir(p.rec.id), 'container.log'), (err) =>
      this.log(`container ${p.rec.id}: log file: ${err.message}`),
    );
    const sources = (['stdout', 'stderr'] as const).map((s) => {
      const source = openFifoReader(fifos[s]);
      writer.attach(s, source);
      return source;
    });
    p.writer = writer;
    p.writerSources = sources;
    if (adopted) {
      // Adopted: EOF on both FIFOs is our sign that the process is gone.
      void writer.done.then(() => {
        if (!isSameProcess(p.rec.pid!, p.rec.pidStart)) this.finish(p, undefined);
        else this.watchLiveness(p, 2000); // it closed its output but lives on
      });
    }
  }

  /** A liveness check for an adopted process (no exit event for non-children). */
  private watchLiveness(p: Proc, everyMs: number): void {
    clearInterval(p.livenessTimer);
    p.livenessTimer = setInterval(() => {
      if (!isSameProcess(p.rec.pid!, p.rec.pidStart)) this.finish(p, undefined);
    }, everyMs);
    p.livenessTimer.unref();
  }

  /** Loads the state file: running processes that still exist are adopted, the others marked exited. */
  private adopt(): void {
    for (const rec of this.store.load()) {
      const p = this.add(rec);
      if (rec.kind === 'sandbox' || rec.state !== 'running') continue;
      if (rec.pid === undefined || !isSameProcess(rec.pid, rec.pidStart)) {
        this.finish(p, undefined);
        continue;
      }
      const dir = this.store.containerDir(rec.id);
      try {
        this.attachLogs(p, { stdout: join(dir, 'stdout.fifo'), stderr: join(dir, 'stderr.fifo') }, true);
      } catch (err) {
        this.log(`container ${rec.id}: cannot reopen its output (${(err as Error).message}); logs stop here`);
        this.watchLiveness(p, 2000);
      }
    }
    this.save();
  }
}

function imageIdOf(ref: string): string {
  return `process://${ref}`;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function osImage(): string | undefined {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms).unref());
}
