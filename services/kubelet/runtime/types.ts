/**
 * The container runtime interface: what a kubelet needs from whatever runs its
 * containers. Three implementations: `docker` (the real one), `process` (child
 * processes, for machines without Docker) and `fake` (hollow nodes for scale tests).
 *
 * The shape follows Kubernetes' CRI, reduced to what Keelson's kubelet uses: a pod
 * gets a sandbox (its network identity), containers are created into it, started,
 * stopped and removed one by one, and everything the runtime created can be listed
 * again after a kubelet restart (adoption). Expected failures are RuntimeErrors
 * with a Kubernetes reason; anything else is a bug or an engine outage.
 */
import type { Readable, Writable } from 'node:stream';
import type { Container, Pod, PullPolicy } from './pod-spec.js';

export type RuntimeName = 'docker' | 'process' | 'fake';

/** What the kubelet puts into `Node.status.nodeInfo`. */
export type RuntimeInfo = {
  name: RuntimeName;
  /** `docker://20.10.24+dfsg1`, `process://0.1.0`, `fake://0.1.0` (Kubernetes' containerRuntimeVersion). */
  version: string;
  /** `linux` */
  operatingSystem?: string;
  /** `Debian GNU/Linux 12 (bookworm)` */
  osImage?: string;
  kernelVersion?: string;
  /** `amd64`, `arm64` (Go's names, as Kubernetes reports them). */
  architecture?: string;
};

/** One image on the node, as `Node.status.images` lists it. */
export type ImageSummary = { names: string[]; sizeBytes: number };

/** A pod's sandbox: it owns the network namespace the pod's containers share. */
export type Sandbox = { id: string; ip: string };

export type ContainerState = 'created' | 'running' | 'exited';

/**
 * A container or sandbox this runtime created, with what a restarted kubelet needs
 * to adopt it and to report `containerStatuses`. Times are RFC 3339 strings.
 */
export type ManagedContainer = {
  id: string;
  kind: 'sandbox' | 'container';
  podUid: string;
  podName: string;
  namespace: string;
  /** The container's name in the pod spec; `POD` for a sandbox. */
  container: string;
  /** 0 for the first instance of a container in a pod, then 1, 2... (restarts). */
  attempt: number;
  state: ContainerState;
  exitCode?: number;
  /** `OOMKilled`, `Error`, `Completed`, or `ContainerStatusUnknown` when the exit code was lost. */
  reason?: string;
  createdAt?: string;
  startedAt?: string;
  finishedAt?: string;
  image: string;
  imageID: string;
  /** Sandboxes: the pod IP. */
  ip?: string;
  /** Containers: the sandbox they joined. */
  sandboxId?: string;
};

export type RuntimeEventType = 'started' | 'exited' | 'oom';

/** A change in a managed container's life, pushed by the runtime (never polled). */
export type RuntimeEvent = {
  id: string;
  podUid: string;
  /** The container's name in the pod spec; `POD` for a sandbox. */
  container: string;
  type: RuntimeEventType;
  /** On `exited`: the exit code, when the runtime knows it. */
  exitCode?: number;
  /** RFC 3339 time of the change. */
  at: string;
};

export type RuntimeEventListener = (event: RuntimeEvent) => void;
export type Unsubscribe = () => void;

/** `kubectl logs` options, in Kubernetes' names. */
export type LogOptions = {
  /** Keep the stream open and send new output until the container exits. */
  follow?: boolean;
  /** Only the last N lines. */
  tailLines?: number;
  /** Prefix each line with its RFC 3339 (nanosecond) time and a space. */
  timestamps?: boolean;
  /** Only lines written in the last N seconds. */
  sinceSeconds?: number;
};

export type ExecOptions = {
  /** Attach a writable stdin (`kubectl exec -i`). */
  stdin?: boolean;
  /** Allocate a terminal (`kubectl exec -t`): stderr is merged into stdout. */
  tty?: boolean;
};

/** A running `exec`: streams plus the exit code once the command is done. */
export type ExecSession = {
  stdout: Readable;
  /** Empty with a tty (the terminal merges both streams). */
  stderr: Readable;
  /** Present when `stdin` was asked for; end it to send EOF. */
  stdin?: Writable;
  exitCode: Promise<number>;
  /** Terminal size, with a tty. */
  resize?(columns: number, rows: number): Promise<void>;
};

export type CreateContainerOptions = {
  /** The instance number (the kubelet's restart count); the runtime picks the next free one if omitted. */
  attempt?: number;
};

/** Every runtime implements this. Methods throw RuntimeError for expected failures. */
export interface ContainerRuntime {
  readonly name: RuntimeName;

  /** Name and version of the runtime and the OS it runs on, for Node status. */
  info(): Promise<RuntimeInfo>;

  /** Images present on the node, for `Node.status.images`. */
  listImages(): Promise<ImageSummary[]>;

  /**
   * Makes `image` present according to `pullPolicy` (Kubernetes' default for the
   * image when omitted) and returns its ID. Throws ImagePullError: `ErrImageNeverPull`
   * when the policy forbids a pull that is needed, `ErrImagePull` when a pull fails
   * (quickly, with the engine's reason, when no registry is reachable).
   */
  ensureImage(image: string, pullPolicy?: PullPolicy): Promise<{ imageID: string }>;

  /**
   * Creates and starts the pod's sandbox (network namespace, pod IP, per-pod
   * folders). Reuses the pod's sandbox when one is already running.
   */
  createSandbox(pod: Pod): Promise<Sandbox>;

  /** Creates (does not start) one of the pod's containers inside its sandbox; returns its ID. */
  createContainer(pod: Pod, container: Container, sandbox: Sandbox, options?: CreateContainerOptions): Promise<string>;

  startContainer(id: string): Promise<void>;

  /**
   * SIGTERM (or the image's stop signal), then SIGKILL once `graceSeconds` have
   * passed; resolves when the container has exited. Stopping an exited container is a no-op.
   */
  stopContainer(id: string, graceSeconds: number): Promise<void>;

  /** Removes a container (killing it if still running) and its logs. Idempotent. */
  removeContainer(id: string): Promise<void>;

  /**
   * Tears down everything the runtime holds for the pod: all its containers (killed
   * at once: stop them first for a graceful end), the sandbox and the pod's
   * folders (emptyDir volumes). Idempotent.
   */
  removeSandbox(podUid: string): Promise<void>;

  /**
   * Every container and sandbox this runtime created for its node (running or
   * not), and nothing else: the kubelet removes those whose pod is not bound to
   * it, so a runtime must never list another node's containers.
   */
  listManaged(): Promise<ManagedContainer[]>;

  /** Subscribes to started/exited/oom events of managed containers. */
  events(listener: RuntimeEventListener): Unsubscribe;

  /**
   * The container's output (stdout and stderr merged, in order as far as the runtime
   * can tell), also for an exited container (`kubectl logs --previous` passes the
   * previous instance's ID). Destroy the stream to stop following.
   */
  logs(id: string, options?: LogOptions): Promise<Readable>;

  /** Runs `command` inside the container (`kubectl exec`). */
  exec(id: string, command: string[], options?: ExecOptions): Promise<ExecSession>;

  /** Releases connections, watchers and listeners. Containers keep running (they are adopted on the next start). */
  close(): Promise<void>;
}

/** Kubernetes' reasons for the runtime failures a kubelet reports in pod status. */
export const RuntimeErrorReasons = {
  ErrImagePull: 'ErrImagePull',
  ErrImageNeverPull: 'ErrImageNeverPull',
  /** The pod spec asks for something this runtime cannot do (unknown volume, no command...). */
  CreateContainerConfigError: 'CreateContainerConfigError',
  CreateContainerError: 'CreateContainerError',
  RunContainerError: 'RunContainerError',
  /** No managed container with that ID (or it exists but Keelson did not create it). */
  ContainerNotFound: 'ContainerNotFound',
  /** The engine did not answer. */
  RuntimeUnavailable: 'RuntimeUnavailable',
} as const;
export type RuntimeErrorReason = (typeof RuntimeErrorReasons)[keyof typeof RuntimeErrorReasons];

export class RuntimeError extends Error {
  override name = 'RuntimeError';
  constructor(
    readonly reason: RuntimeErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An image could not be made present; `message` says why and what to do. */
export class ImagePullError extends RuntimeError {
  override name = 'ImagePullError';
  constructor(
    reason: 'ErrImagePull' | 'ErrImageNeverPull',
    readonly image: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(reason, message, options);
  }
}

export function isRuntimeError(err: unknown, reason?: RuntimeErrorReason): err is RuntimeError {
  return err instanceof RuntimeError && (reason === undefined || err.reason === reason);
}

export function isImagePullError(err: unknown): err is ImagePullError {
  return err instanceof ImagePullError;
}

export function isContainerNotFound(err: unknown): err is RuntimeError {
  return isRuntimeError(err, 'ContainerNotFound');
}
