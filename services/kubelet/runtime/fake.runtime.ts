/**
 * The fake runtime, for hollow nodes: containers "run" the moment they start, with
 * no process, and exit only when a test says so (`exit`, `oom`). Logs are one fixed
 * line. Everything is a plain object in a Map and events are delivered on the
 * microtask queue: no timers, no I/O, so a thousand fake nodes fit in one process.
 */
import { PassThrough, Readable } from 'node:stream';
import { EventHub, nowRfc3339 } from './event-hub.js';
import { SANDBOX_CONTAINER } from './labels.js';
import { defaultPullPolicy, normalizeImage, podNamespace, type Container, type Pod, type PullPolicy } from './pod-spec.js';
import {
  ImagePullError,
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
  type Unsubscribe,
} from './types.js';

export type FakeRuntimeOptions = {
  /** Images present from the start (others are "pulled" by ensureImage). */
  images?: string[];
  /** Makes a pull fail: return the reason, or undefined to let it succeed. */
  failPull?: (image: string) => string | undefined;
  /** What `exec` prints and returns; default: echoes the command, exit code 0. */
  exec?: (container: ManagedContainer, command: string[]) => { stdout?: string; stderr?: string; exitCode?: number };
};

type FakeContainer = ManagedContainer & { followers?: Set<PassThrough> };

/** Pod IPs are unique across all fake runtimes of the process: 10.0.0.1, 10.0.0.2, ... */
let nextIp = 1;
let nextId = 1;

export class FakeRuntime implements ContainerRuntime {
  readonly name = 'fake' as const;
  private readonly containers = new Map<string, FakeContainer>();
  private readonly images: Set<string>;
  private readonly hub = new EventHub();

  constructor(private readonly options: FakeRuntimeOptions = {}) {
    this.images = new Set((options.images ?? []).map(normalizeImage));
  }

  async info() {
    return { name: 'fake' as const, version: 'fake://0.1.0', operatingSystem: 'linux', osImage: 'Keelson hollow node', kernelVersion: 'fake', architecture: 'amd64' };
  }

  async listImages(): Promise<ImageSummary[]> {
    return [...this.images].map((name) => ({ names: [name], sizeBytes: 0 }));
  }

  async ensureImage(image: string, pullPolicy?: PullPolicy): Promise<{ imageID: string }> {
    const ref = normalizeImage(image);
    const policy = pullPolicy ?? defaultPullPolicy(ref);
    const present = this.images.has(ref);
    if (!present && policy === 'Never') {
      throw new ImagePullError('ErrImageNeverPull', image, `Container image "${image}" is not present with pull policy of Never`);
    }
    if (!present || policy === 'Always') {
      const failure = this.options.failPull?.(ref);
      if (failure) throw new ImagePullError('ErrImagePull', image, `Failed to pull image "${image}": ${failure}`);
      this.images.add(ref);
    }
    return { imageID: `fake://${ref}` };
  }

  async createSandbox(pod: Pod) {
    for (const c of this.containers.values()) {
      if (c.podUid === pod.metadata.uid && c.kind === 'sandbox' && c.state === 'running') return { id: c.id, ip: c.ip! };
    }
    const n = nextIp++;
    const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
    const c = this.add(pod, SANDBOX_CONTAINER, 'sandbox', 0, 'pause');
    Object.assign(c, { state: 'running', startedAt: c.createdAt, ip });
    this.emit(c, 'started');
    return { id: c.id, ip };
  }

  async createContainer(pod: Pod, container: Container, sandbox: { id: string }, options: CreateContainerOptions = {}): Promise<string> {
    if (!this.containers.has(sandbox.id)) throw new RuntimeError('CreateContainerError', `sandbox ${sandbox.id} does not exist`);
    let attempt = options.attempt;
    if (attempt === undefined) {
      attempt = 0;
      for (const c of this.containers.values()) {
        if (c.podUid === pod.metadata.uid && c.container === container.name) attempt = Math.max(attempt, c.attempt + 1);
      }
    }
    const c = this.add(pod, container.name, 'container', attempt, normalizeImage(container.image ?? 'none'));
    c.sandboxId = sandbox.id;
    return c.id;
  }

  async startContainer(id: string): Promise<void> {
    const c = this.get(id);
    if (c.state !== 'created') return;
    c.state = 'running';
    c.startedAt = nowRfc3339();
    this.emit(c, 'started');
  }

  async stopContainer(id: string, _graceSeconds: number): Promise<void> {
    const c = this.get(id);
    // A fake process dies at SIGTERM at once: 143 = 128 + SIGTERM.
    if (c.state === 'running') this.exit(id, 143);
  }

  async removeContainer(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (!c) return;
    if (c.state === 'running') this.exit(id, 137);
    this.containers.delete(id);
  }

  async removeSandbox(podUid: string): Promise<void> {
    for (const c of [...this.containers.values()]) if (c.podUid === podUid) await this.removeContainer(c.id);
  }

  async listManaged(): Promise<ManagedContainer[]> {
    return [...this.containers.values()].map(({ followers: _f, ...c }) => ({ ...c }));
  }

  events(listener: RuntimeEventListener): Unsubscribe {
    return this.hub.subscribe(listener);
  }

  async logs(id: string, options: LogOptions = {}): Promise<Readable> {
    const c = this.get(id);
    const line = c.startedAt && options.tailLines !== 0 ? `${options.timestamps ? `${c.startedAt} ` : ''}${this.logLine(c)}` : '';
    if (!options.follow || c.state === 'exited') return Readable.from(line ? [line] : []);
    const out = new PassThrough();
    if (line) out.write(line);
    (c.followers ??= new Set()).add(out);
    out.on('close', () => c.followers?.delete(out));
    return out;
  }

  async exec(id: string, command: string[], _options: ExecOptions = {}): Promise<ExecSession> {
    const c = this.get(id);
    if (c.state !== 'running') throw new RuntimeError('RunContainerError', `container ${id} is not running; cannot exec`);
    const r = this.options.exec?.(c, command) ?? { stdout: `${command.join(' ')}\n` };
    return {
      stdout: Readable.from(r.stdout ? [r.stdout] : []),
      stderr: Readable.from(r.stderr ? [r.stderr] : []),
      stdin: new PassThrough(),
      exitCode: Promise.resolve(r.exitCode ?? 0),
    };
  }

  async close(): Promise<void> {
    this.hub.clear();
  }

  // ---- test hooks ----

  /** Makes a running container exit with `exitCode` (the hollow node's only way to end one). */
  exit(id: string, exitCode = 0, reason?: string): void {
    const c = this.get(id);
    if (c.state !== 'running') return;
    c.state = 'exited';
    c.exitCode = exitCode;
    c.reason = reason ?? (exitCode === 0 ? 'Completed' : 'Error');
    c.finishedAt = nowRfc3339();
    for (const f of c.followers ?? []) f.end();
    c.followers = undefined;
    this.emit(c, 'exited');
  }

  /** An out-of-memory kill: `oom`, then exit 137 with reason OOMKilled. */
  oom(id: string): void {
    const c = this.get(id);
    if (c.state !== 'running') return;
    this.emit(c, 'oom');
    this.exit(id, 137, 'OOMKilled');
  }

  /** How many containers (sandboxes included) the runtime holds. */
  get size(): number {
    return this.containers.size;
  }

  // ---- internals ----

  private add(pod: Pod, container: string, kind: 'sandbox' | 'container', attempt: number, image: string): FakeContainer {
    const c: FakeContainer = {
      id: `fake-${(nextId++).toString(16).padStart(8, '0')}`,
      kind,
      podUid: pod.metadata.uid,
      podName: pod.metadata.name,
      namespace: podNamespace(pod),
      container,
      attempt,
      state: 'created',
      image,
      imageID: `fake://${image}`,
      createdAt: nowRfc3339(),
    };
    this.containers.set(c.id, c);
    return c;
  }

  private get(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw new RuntimeError('ContainerNotFound', `no such container: ${id}`);
    return c;
  }

  private logLine(c: ManagedContainer): string {
    return `fake runtime: ${c.namespace}/${c.podName} ${c.container} started\n`;
  }

  private emit(c: ManagedContainer, type: RuntimeEventType): void {
    if (this.hub.size === 0) return;
    const ev = { id: c.id, podUid: c.podUid, container: c.container, type, at: nowRfc3339() };
    const event = type === 'exited' && c.exitCode !== undefined ? { ...ev, exitCode: c.exitCode } : ev;
    // Never inside the caller's stack: a listener may call back into the runtime.
    queueMicrotask(() => this.hub.emit(event));
  }
}
