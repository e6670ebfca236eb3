/**
 * The Docker runtime (dockerode, API version pinned to the engine's). A pod is a
 * sandbox container that owns the network namespace on the user-defined bridge
 * network `keelson` (its IP is the pod IP) plus one container per spec container
 * joined to it, so a pod's containers share localhost. Every container carries the
 * Keelson identity labels and its node's label, and the runtime reads or changes only
 * containers that carry them: a container somebody else (or another node's kubelet
 * on the same engine) started is never listed, stopped or removed.
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import type Docker from 'dockerode';
import { Docker as Dockerode } from './dockerode.js';
import { EventHub } from './event-hub.js';
import { containerCreateOptions, sandboxCreateOptions, toManaged } from './docker-spec.js';
import { dockerMessage, shortId as short, statusOf } from './docker-errors.js';
import { DockerImages } from './docker-images.js';
import { FrameMerger, splitFrames } from './docker-streams.js';
import { DockerEvents } from './docker-events.js';
import { isManaged, isOwned, Labels, managedFilter, runtimeName, SANDBOX_CONTAINER } from './labels.js';
import type { Container, Pod, PullPolicy } from './pod-spec.js';
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
  type RuntimeInfo,
  type Sandbox,
  type Unsubscribe,
} from './types.js';
import { createEmptyDirs, podDir, resolveMounts } from './volumes.js';

export type DockerRuntimeOptions = {
  /** Folder for per-pod data (emptyDir volumes). Must be visible to the engine at the same path. */
  dataDir: string;
  /**
   * The node this runtime serves. Its containers are labelled `io.keelson.node=<nodeName>`
   * and it sees only those, so kubelets sharing one engine leave each other's alone.
   * A kubelet must set it; without it the runtime sees every node's containers (tools).
   */
  nodeName?: string;
  /** The engine's socket; default: DOCKER_HOST or /var/run/docker.sock. */
  socketPath?: string;
  /** The user-defined bridge network pods live on (created when missing). Default `keelson`. */
  network?: string;
  /** The sandbox ("pause") image. Default `busybox:latest` (scripts/build-images.sh builds it offline). */
  sandboxImage?: string;
  /** A pull that sends no progress for this long is abandoned. Default 30 s. */
  pullIdleTimeoutMs?: number;
  /**
   * With `imagePullPolicy: Always`, use the local image when the pull fails (there is
   * no registry on offline machines). Default true; false gives Kubernetes' strict behaviour.
   */
  offlineFallback?: boolean;
  /** Notes about skipped spec fields and fallbacks. Default: none. */
  log?: (message: string) => void;
};

export class DockerRuntime implements ContainerRuntime {
  readonly name = 'docker' as const;
  private readonly hub: EventHub;
  private readonly events$: DockerEvents;
  private readonly images: DockerImages;
  private readonly dataDir: string;
  private readonly network: string;
  private readonly nodeName: string | undefined;
  private readonly sandboxImage: string;
  private readonly log: (message: string) => void;
  private networkReady?: Promise<void>;

  private constructor(
    private readonly docker: Docker,
    options: DockerRuntimeOptions,
  ) {
    this.dataDir = resolve(options.dataDir);
    this.network = options.network ?? 'keelson';
    this.nodeName = options.nodeName;
    this.sandboxImage = options.sandboxImage ?? 'busybox:latest';
    this.log = options.log ?? (() => {});
    this.hub = new EventHub((err) => this.log(`runtime event listener failed: ${String(err)}`));
    this.events$ = new DockerEvents(docker, this.hub, this.log, this.nodeName);
    this.images = new DockerImages(docker, {
      pullIdleTimeoutMs: options.pullIdleTimeoutMs ?? 30_000,
      offlineFallback: options.offlineFallback !== false,
      log: this.log,
    });
  }

  /** Connects to the engine and pins its API version (dockerode does not negotiate). */
  static async connect(options: DockerRuntimeOptions): Promise<DockerRuntime> {
    const base: Docker.DockerOptions = options.socketPath ? { socketPath: options.socketPath } : {};
    let apiVersion: string;
    try {
      apiVersion = (await new Dockerode({ ...base, timeout: 10_000 }).version()).ApiVersion;
    } catch (err) {
      throw new RuntimeError(
        'RuntimeUnavailable',
        `The Docker engine does not answer (${(err as Error).message}). Start it (as root: ` +
          '`setsid dockerd >/var/log/dockerd.log 2>&1 &`) or use the process runtime.',
        { cause: err },
      );
    }
    return new DockerRuntime(new Dockerode({ ...base, version: `v${apiVersion}` }), options);
  }

  /** The pinned dockerode client, for tools and tests. */
  get client(): Docker {
    return this.docker;
  }

  async info(): Promise<RuntimeInfo> {
    const [v, i] = await Promise.all([this.docker.version(), this.docker.info()]);
    return {
      name: 'docker',
      version: `docker://${v.Version}`,
      operatingSystem: v.Os,
      osImage: i.OperatingSystem,
      kernelVersion: v.KernelVersion,
      architecture: v.Arch,
    };
  }

  async listImages(): Promise<ImageSummary[]> {
    return this.images.list();
  }

  async ensureImage(image: string, pullPolicy?: PullPolicy): Promise<{ imageID: string }> {
    return this.images.ensure(image, pullPolicy);
  }

  async createSandbox(pod: Pod): Promise<Sandbox> {
    const existing = (await this.listPod(pod.metadata.uid)).filter((c) => c.Labels[Labels.kind] === 'sandbox');
    const running = existing.find((c) => c.State === 'running');
    if (running) return { id: running.Id, ip: await this.sandboxIp(running.Id) };
    await this.ensureImage(this.sandboxImage, 'IfNotPresent').catch((err: unknown) => {
      throw new RuntimeError(
        'CreateContainerError',
        `The sandbox image ${this.sandboxImage} is missing: run scripts/build-images.sh (offline) or load it. ${(err as Error).message}`,
        { cause: err },
      );
    });
    await this.ensureNetwork();
    createEmptyDirs(this.dataDir, pod);
    const attempt = nextAttempt(existing);
    const id = await this.createNamed(pod, SANDBOX_CONTAINER, attempt, (name, a) =>
      sandboxCreateOptions(pod, { image: this.sandboxImage, network: this.network, name, attempt: a, ...this.nodeInput() }),
    );
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      await this.removeForce(id);
      throw new RuntimeError('CreateContainerError', `Starting the sandbox of pod ${pod.metadata.name} failed: ${dockerMessage(err)}`, { cause: err });
    }
    return { id, ip: await this.sandboxIp(id) };
  }

  async createContainer(pod: Pod, container: Container, sandbox: Sandbox, options: CreateContainerOptions = {}): Promise<string> {
    const mounts = resolveMounts(this.dataDir, pod, container);
    // The kubelet knows the attempt (its restart count); only other callers need the engine asked.
    const attempt = options.attempt ?? nextAttempt((await this.listPod(pod.metadata.uid)).filter((c) => c.Labels[Labels.container] === container.name));
    return this.createNamed(pod, container.name, attempt, (name, a) =>
      containerCreateOptions(pod, container, { name, attempt: a, sandboxId: sandbox.id, mounts, note: this.log, ...this.nodeInput() }),
    );
  }

  async startContainer(id: string): Promise<void> {
    await this.managed(id);
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      if (statusOf(err) === 304) return; // already running
      throw new RuntimeError('RunContainerError', `Starting container ${short(id)} failed: ${dockerMessage(err)}`, { cause: err });
    }
  }

  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    const info = await this.managed(id);
    if (!info.State.Running) return;
    try {
      // The engine sends the stop signal (SIGTERM unless the image says otherwise),
      // then SIGKILL after t seconds, and answers once the container has exited.
      await this.docker.getContainer(id).stop({ t: Math.max(0, Math.ceil(graceSeconds)) });
    } catch (err) {
      if (statusOf(err) !== 304 && statusOf(err) !== 404) throw err;
    }
  }

  async removeContainer(id: string): Promise<void> {
    if (await this.inspectManaged(id)) await this.removeForce(id);
  }

  async removeSandbox(podUid: string): Promise<void> {
    const all = await this.listPod(podUid);
    // App containers first: removing the namespace owner first would strand them.
    const order = [...all.filter((c) => c.Labels[Labels.kind] !== 'sandbox'), ...all.filter((c) => c.Labels[Labels.kind] === 'sandbox')];
    for (const c of order) await this.removeForce(c.Id);
    try {
      rmSync(podDir(this.dataDir, podUid), { recursive: true, force: true });
    } catch (err) {
      this.log(`could not remove ${podDir(this.dataDir, podUid)}: ${(err as Error).message}`);
    }
  }

  async listManaged(): Promise<ManagedContainer[]> {
    const list = await this.docker.listContainers({ all: true, filters: { label: managedFilter(this.nodeName) } });
    const out = await mapLimit(list.filter((c) => isOwned(c.Labels, this.nodeName)), 8, async (c) => {
      try {
        return toManaged(await this.docker.getContainer(c.Id).inspect(), this.network);
      } catch (err) {
        if (statusOf(err) === 404) return undefined; // removed while we listed
        throw err;
      }
    });
    return out.filter((c): c is ManagedContainer => c !== undefined);
  }

  events(listener: RuntimeEventListener): Unsubscribe {
    const unsubscribe = this.hub.subscribe(listener);
    this.events$.demand();
    return () => {
      unsubscribe();
      this.events$.demand();
    };
  }

  async logs(id: string, options: LogOptions = {}): Promise<Readable> {
    const info = await this.managed(id);
    const query = {
      stdout: true,
      stderr: true,
      timestamps: options.timestamps === true,
      ...(options.tailLines !== undefined ? { tail: Math.max(0, options.tailLines) } : {}),
      ...(options.sinceSeconds !== undefined ? { since: Math.floor(Date.now() / 1000) - options.sinceSeconds } : {}),
    };
    const container = this.docker.getContainer(id);
    const source: Readable = options.follow
      ? ((await container.logs({ ...query, follow: true })) as Readable)
      : Readable.from([await container.logs({ ...query, follow: false })]);
    if (info.Config.Tty) return source;
    // In the engine's order: each stream in order; across streams, lines written within
    // microseconds of each other can swap (the engine reads the two pipes separately).
    const out = new FrameMerger();
    source.on('error', (err) => out.destroy(err));
    out.on('close', () => source.destroy());
    return source.pipe(out);
  }

  async exec(id: string, command: string[], options: ExecOptions = {}): Promise<ExecSession> {
    const info = await this.managed(id);
    if (!info.State.Running) throw new RuntimeError('RunContainerError', `container ${short(id)} is not running; cannot exec`);
    const tty = options.tty === true;
    const exec = await this.docker.getContainer(id).exec({
      Cmd: command,
      AttachStdin: options.stdin === true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: tty,
    });
    const stream = (await exec.start({ hijack: true, stdin: options.stdin === true, Tty: tty })) as NodeJS.ReadWriteStream & Readable;
    const { stdout, stderr } = tty ? rawStreams(stream) : splitFrames(stream);
    const done = new Promise<void>((ok) => {
      stream.once('end', ok);
      stream.once('close', ok);
      stream.once('error', () => ok());
    });
    const exitCode = done.then(() => execExitCode(exec));
    const stdin = options.stdin
      ? new Writable({
          write: (chunk, _enc, cb) => void stream.write(chunk, cb),
          final: (cb) => {
            // Half-close: the engine sees EOF on the command's stdin and keeps sending output.
            stream.end();
            cb();
          },
        })
      : undefined;
    return {
      stdout,
      stderr,
      ...(stdin ? { stdin } : {}),
      exitCode,
      ...(tty ? { resize: (w: number, h: number) => exec.resize({ w, h }).then(() => undefined) } : {}),
    };
  }

  async close(): Promise<void> {
    this.hub.clear();
    this.events$.close();
  }

  // ---- internals ----

  /** Inspects a container and refuses it unless it carries the Keelson labels of this node. */
  private async managed(id: string): Promise<Docker.ContainerInspectInfo> {
    const info = await this.inspectManaged(id);
    if (!info) throw new RuntimeError('ContainerNotFound', `no such container: ${short(id)}`);
    return info;
  }

  /** Like managed(), but undefined for a container that does not exist. */
  private async inspectManaged(id: string): Promise<Docker.ContainerInspectInfo | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(id).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
    if (!isManaged(info.Config.Labels)) {
      throw new RuntimeError('ContainerNotFound', `container ${short(id)} was not created by Keelson (no io.keelson labels); leaving it alone`);
    }
    if (!isOwned(info.Config.Labels, this.nodeName)) {
      const owner = info.Config.Labels[Labels.node];
      const whose = owner === undefined ? 'has no node label' : `belongs to node ${owner}`;
      throw new RuntimeError('ContainerNotFound', `container ${short(id)} ${whose}, not to node ${this.nodeName}; leaving it alone`);
    }
    return info;
  }

  private async removeForce(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      if (statusOf(err) !== 404 && !dockerMessage(err).includes('already in progress')) throw err;
    }
  }

  /** Every managed container (and sandbox) of one pod on this node. */
  private async listPod(podUid: string): Promise<Docker.ContainerInfo[]> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [...managedFilter(this.nodeName), `${Labels.podUid}=${podUid}`] },
    });
    return list.filter((c) => isOwned(c.Labels, this.nodeName));
  }

  /** The node label's input to the create options, when the runtime is scoped to a node. */
  private nodeInput(): { node?: string } {
    return this.nodeName === undefined ? {} : { node: this.nodeName };
  }

  /** Creates a container named for its attempt; a taken name moves on to the next attempt. */
  private async createNamed(
    pod: Pod,
    container: string,
    attempt: number,
    build: (name: string, attempt: number) => Docker.ContainerCreateOptions,
  ): Promise<string> {
    for (let a = attempt; ; a++) {
      try {
        return (await this.docker.createContainer(build(runtimeName(pod, container, a), a))).id;
      } catch (err) {
        if (statusOf(err) === 409 && a < attempt + 10) continue;
        if (err instanceof RuntimeError) throw err;
        throw new RuntimeError('CreateContainerError', `Creating container "${container}" of pod ${pod.metadata.name} failed: ${dockerMessage(err)}`, {
          cause: err,
        });
      }
    }
  }

  private async sandboxIp(id: string): Promise<string> {
    const info = await this.docker.getContainer(id).inspect();
    return info.NetworkSettings.Networks[this.network]?.IPAddress ?? '';
  }

  private ensureNetwork(): Promise<void> {
    this.networkReady ??= (async () => {
      const found = await this.docker.listNetworks({ filters: { name: [this.network] } });
      if (found.some((n) => n.Name === this.network)) return;
      try {
        await this.docker.createNetwork({ Name: this.network, Driver: 'bridge', CheckDuplicate: true, Labels: { 'io.keelson.network': 'true' } });
      } catch (err) {
        if (statusOf(err) !== 409) throw err; // another kubelet made it first
      }
    })().catch((err: unknown) => {
      this.networkReady = undefined;
      throw err;
    });
    return this.networkReady;
  }
}

function nextAttempt(existing: Docker.ContainerInfo[]): number {
  return existing.reduce((max, c) => Math.max(max, Number(c.Labels[Labels.attempt] ?? -1) + 1), 0);
}

/** The exit code once the engine has recorded it (it can lag the end of the stream by a moment). */
async function execExitCode(exec: Docker.Exec): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const r = await exec.inspect();
    if (!r.Running && r.ExitCode !== null) return r.ExitCode;
    await new Promise((ok) => setTimeout(ok, 20));
  }
  throw new RuntimeError('RunContainerError', `exec ${short(exec.id)} ended its streams but the engine reports it still running`);
}

function rawStreams(stream: Readable): { stdout: Readable; stderr: Readable } {
  const stdout = new PassThrough();
  stream.pipe(stdout);
  stream.once('close', () => stdout.end());
  return { stdout, stderr: Readable.from([]) };
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

