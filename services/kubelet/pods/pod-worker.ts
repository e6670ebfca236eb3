/**
 * One pod on this node: a pod actor and one container actor per container, the
 * machines of statecharts/ with this node's container runtime plugged in. The
 * worker feeds runtime events to the right container, runs each instance's
 * probes (the startup probe first, then readiness and liveness), and hands every
 * status change to `report` (the pod manager writes it through the API).
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import { NO_INSPECTION, type Inspector, type Tracked } from '../../lib/inspect/index.js';
import {
  containerMachine,
  containerStatus,
  type BackOff,
  type EnsureImageInput,
  type PullPolicy,
  type RestartPolicy,
  type StartContainerInput,
  type StopContainerInput,
} from '../../../statecharts/container.machine.js';
import {
  podMachine,
  podStatus,
  type PodCleanupInput,
  type PodStatus,
  type SandboxInput,
  type SandboxRef,
} from '../../../statecharts/pod.machine.js';
import type { KObject } from '../../lib/api/resources.js';
import type { ContainerRuntime, ManagedContainer, Pod, RuntimeEvent } from '../runtime/index.js';
import type { EnvVar } from '../runtime/pod-spec.js';
import { runProbe, type Probe } from './probes.js';
import { withServiceEnv } from './service-env.js';

type ContainerSpec = {
  name: string;
  image: string;
  imagePullPolicy?: PullPolicy;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  ports?: { name?: string; containerPort: number }[];
};

type PodSpec = {
  containers: ContainerSpec[];
  restartPolicy?: RestartPolicy;
  terminationGracePeriodSeconds?: number;
};

export type PodWorkerOptions = {
  runtime: ContainerRuntime;
  /** The machines with this node's runtime plugged in (podLogic), shared by every worker. */
  logic: PodLogic;
  /** Container restart and image pull back-off; default Kubernetes' (10 s doubling to 5 min). */
  backOff?: BackOff;
  /** Called on every change of the pod's status, and once when it is Terminated. */
  report: (worker: PodWorker, status: PodStatus, terminated: boolean) => void;
  /** The Service variables for the pod's containers, as the Services are now (service-env.ts). */
  serviceEnv?: (pod: KObject) => Promise<EnvVar[]>;
  /** Where the pod's and its containers' actors report their transitions (live inspection). */
  inspector?: Inspector;
};

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class PodWorker {
  readonly uid: string;
  private readonly pod: Actor<typeof podMachine>;
  private readonly containers = new Map<string, Actor<typeof containerMachine>>();
  /** The pod's and its containers' actors as inspection knows them. */
  private readonly tracked: Tracked[] = [];
  /** The runtime id of each container's current instance, by container name. */
  private readonly current = new Map<string, string>();
  private readonly withReadinessProbe = new Set<string>();
  /** The probes running for each container's current instance and its startup phase. */
  private readonly probing = new Map<string, { key: string; stop: () => void }>();
  /** The instance each probe-less container was last declared ready for. */
  private readonly readied = new Map<string, string | undefined>();
  private object: KObject;
  private podIP?: string;
  /**
   * For the startup log line: when this kubelet took the pod on, when its sandbox was
   * up and when the last of its containers' first instances started (ms since epoch);
   * none for an adopted pod.
   */
  startup?: { readonly seenAt: number; sandboxAt?: number; containersAt?: number };

  constructor(
    object: KObject,
    private readonly opts: PodWorkerOptions,
  ) {
    this.object = object;
    const meta = object.metadata!;
    this.uid = meta.uid!;
    const spec = object.spec as PodSpec;
    const inspector = opts.inspector ?? NO_INSPECTION;
    const podActor = `pod/${meta.namespace ?? 'default'}/${meta.name}`;
    const trackedPod = inspector.track(podActor, 'pod');
    this.tracked.push(trackedPod);
    this.pod = createActor(opts.logic.pod, {
      inspect: trackedPod.inspect,
      input: {
        uid: this.uid,
        name: meta.name!,
        namespace: meta.namespace ?? 'default',
        containers: spec.containers.map((c) => ({ name: c.name, image: c.image })),
        restartPolicy: spec.restartPolicy ?? 'Always',
        terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? 30,
      },
    });
    for (const c of spec.containers) {
      if (c.readinessProbe) this.withReadinessProbe.add(c.name);
      const trackedContainer = inspector.track(`container/${podActor.slice('pod/'.length)}/${c.name}`, 'container');
      this.tracked.push(trackedContainer);
      const actor = createActor(opts.logic.container, {
        inspect: trackedContainer.inspect,
        input: {
          podUid: this.uid,
          name: c.name,
          image: c.image,
          imagePullPolicy: c.imagePullPolicy ?? 'IfNotPresent',
          restartPolicy: spec.restartPolicy ?? 'Always',
          terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? 30,
          hasStartupProbe: c.startupProbe !== undefined,
          ...(opts.backOff ? { backOff: opts.backOff } : {}),
        },
      });
      actor.subscribe((s) => this.onContainer(c.name, s));
      this.containers.set(c.name, actor);
    }
    this.pod.subscribe((s) => opts.report(this, podStatus(s), s.status === 'done'));
  }

  get name(): string {
    return this.object.metadata!.name!;
  }

  get namespace(): string {
    return this.object.metadata!.namespace ?? 'default';
  }

  /** Starts a new pod, or adopts the containers a previous kubelet left running. */
  start(found: ManagedContainer[] = []): void {
    this.pod.start();
    for (const c of this.containers.values()) c.start();
    const sandbox = found.find((m) => m.kind === 'sandbox' && m.state === 'running');
    if (!sandbox) {
      this.startup = { seenAt: Date.now() };
      this.pod.send({ type: 'ADMIT', startTime: now() });
      return;
    }
    this.podIP = sandbox.ip;
    // Adopt before the pod starts the rest, so running containers are not started twice.
    for (const [name, actor] of this.containers) {
      const running = found
        .filter((m) => m.kind === 'container' && m.container === name && m.state === 'running')
        .sort((a, b) => b.attempt - a.attempt)[0];
      if (!running) continue;
      this.current.set(name, running.id);
      actor.send({
        type: 'ADOPT',
        containerID: `${this.opts.runtime.name}://${running.id}`,
        startedAt: running.startedAt ?? now(),
        imageID: running.imageID,
        restartCount: running.attempt,
      });
    }
    this.pod.send({ type: 'ADOPT', sandboxID: sandbox.id, podIP: sandbox.ip, startTime: sandbox.startedAt ?? now() });
  }

  /** The API object changed: a deletion starts the pod's termination. */
  update(object: KObject): void {
    this.object = object;
    const meta = object.metadata!;
    if (meta.deletionTimestamp) this.pod.send({ type: 'DELETE', graceSeconds: meta.deletionGracePeriodSeconds ?? undefined });
  }

  /** The pod object is gone (deleted with grace 0 elsewhere): stop at once. */
  delete(): void {
    this.pod.send({ type: 'DELETE', graceSeconds: 0 });
  }

  // ---- what the shared machines call back for this pod (podLogic) ----

  /** @internal */
  async createSandbox(): Promise<SandboxRef> {
    const sb = await this.opts.runtime.createSandbox(this.object as Pod);
    this.podIP = sb.ip;
    if (this.startup) this.startup.sandboxAt ??= Date.now();
    return { sandboxID: sb.id, podIP: sb.ip };
  }

  /** @internal Creates and starts one instance of a container in the sandbox. */
  async startInstance(input: StartContainerInput): Promise<{ containerID: string; startedAt: string }> {
    const runtime = this.opts.runtime;
    const spec = (this.object.spec as PodSpec).containers.find((x) => x.name === input.name)!;
    const c = withServiceEnv(spec as { env?: EnvVar[] }, (await this.opts.serviceEnv?.(this.object)) ?? []);
    const sandbox = { id: input.sandboxID, ip: this.podIP ?? '' };
    const id = await runtime.createContainer(this.object as Pod, c as never, sandbox, { attempt: input.restartCount });
    this.current.set(input.name, id);
    await runtime.startContainer(id);
    if (this.startup && input.restartCount === 0) this.startup.containersAt = Date.now();
    return { containerID: `${runtime.name}://${id}`, startedAt: now() };
  }

  /** @internal Kills every current instance at once (the grace period is over). */
  async killContainers(): Promise<void> {
    await Promise.all([...this.current.values()].map((id) => this.opts.runtime.stopContainer(id, 0).catch(() => undefined)));
  }

  /** @internal */
  sendContainers(event: { type: 'START'; sandboxID: string } | { type: 'STOP'; graceSeconds: number }): void {
    for (const c of this.containers.values()) c.send(event);
  }

  /** A runtime event about one of this pod's containers. */
  onRuntimeEvent(ev: RuntimeEvent): void {
    const actor = this.containers.get(ev.container);
    // Only the current instance's exit counts; a late event of an old one does not.
    if (!actor || this.current.get(ev.container) !== ev.id) return;
    if (ev.type === 'exited') {
      actor.send({
        type: 'EXITED',
        exitCode: ev.exitCode ?? 137,
        reason: ev.exitCode === undefined ? 'ContainerStatusUnknown' : undefined,
        finishedAt: ev.at,
      });
    }
  }

  /** Stops the actors (kubelet shutdown, or the pod is finished); containers left running are adopted later. */
  stop(): void {
    for (const p of this.probing.values()) p.stop();
    this.probing.clear();
    for (const c of this.containers.values()) c.stop();
    this.pod.stop();
    for (const t of this.tracked) t.done();
  }

  private onContainer(name: string, s: ReturnType<Actor<typeof containerMachine>['getSnapshot']>): void {
    const status = containerStatus(s);
    this.syncProbes(name, 'running' in status.state ? status.containerID : undefined, status.started);
    // Without a readiness probe a started container is ready (Kubernetes' rule):
    // said once per instance, so a stopping container is not made ready again.
    if (!this.withReadinessProbe.has(name) && status.started && this.readied.get(name) !== status.containerID) {
      this.readied.set(name, status.containerID);
      this.containers.get(name)?.send({ type: 'READY_CHANGED', ready: true });
      return;
    }
    if (this.pod.getSnapshot().status === 'active') this.pod.send({ type: 'CONTAINER_STATUS', status });
  }

  /**
   * Probes follow the container's instance: a new instance, new probes. Until it
   * has started only its startup probe runs; then readiness and liveness.
   */
  private syncProbes(name: string, instance: string | undefined, started: boolean): void {
    const key = instance ? `${instance} ${started ? 'started' : 'starting'}` : '';
    const current = this.probing.get(name);
    if (current && current.key === key) return;
    current?.stop();
    this.probing.delete(name);
    const spec = (this.object.spec as PodSpec).containers.find((c) => c.name === name);
    if (!instance || !spec) return;
    const startup = started ? undefined : spec.startupProbe;
    const readiness = started ? spec.readinessProbe : undefined;
    const liveness = started ? spec.livenessProbe : undefined;
    if (!startup && !readiness && !liveness) return;
    const actor = this.containers.get(name)!;
    const target = {
      runtime: this.opts.runtime,
      containerId: instance.replace(/^[a-z]+:\/\//, ''),
      podIP: this.podIP ?? '127.0.0.1',
      ports: spec.ports ?? [],
    };
    const stops: (() => void)[] = [];
    if (startup) stops.push(runProbe(startup, target, undefined, (ok) => actor.send({ type: ok ? 'STARTED' : 'STARTUP_FAILED' })));
    if (readiness) stops.push(runProbe(readiness, target, false, (ok) => actor.send({ type: 'READY_CHANGED', ready: ok })));
    if (liveness) stops.push(runProbe(liveness, target, true, (ok) => !ok && actor.send({ type: 'LIVENESS_FAILED' })));
    this.probing.set(name, { key, stop: () => stops.forEach((f) => f()) });
  }
}

export type PodLogic = { pod: typeof podMachine; container: typeof containerMachine };

/**
 * The pod and container machines with a runtime plugged in, made once per node:
 * a provided machine is a whole state-node tree (tens of KB), too much to build
 * per pod. The implementations find their pod's worker by uid.
 */
export function podLogic(runtime: ContainerRuntime, worker: (podUid: string) => PodWorker | undefined): PodLogic {
  const of = (uid: string): PodWorker => {
    const w = worker(uid);
    if (!w) throw new Error(`pod ${uid} is no longer run by this kubelet`);
    return w;
  };
  const container = containerMachine.provide({
    actors: {
      ensureImage: fromPromise<{ imageID: string }, EnsureImageInput>(({ input }) => runtime.ensureImage(input.image, input.imagePullPolicy)),
      startContainer: fromPromise<{ containerID: string; startedAt: string }, StartContainerInput>(({ input }) => of(input.podUid).startInstance(input)),
      stopContainer: fromPromise<void, StopContainerInput>(async ({ input }) => {
        await runtime.stopContainer(input.containerID.replace(/^[a-z]+:\/\//, ''), input.graceSeconds);
      }),
    },
  });
  const pod = podMachine.provide({
    actors: {
      createSandbox: fromPromise<SandboxRef, SandboxInput>(({ input }) => of(input.uid).createSandbox()),
      killContainers: fromPromise<void, PodCleanupInput>(({ input }) => of(input.uid).killContainers()),
      removeSandbox: fromPromise<void, PodCleanupInput>(({ input }) => runtime.removeSandbox(input.uid)),
    },
    actions: {
      startContainers: ({ context }, { sandboxID }) => worker(context.uid)?.sendContainers({ type: 'START', sandboxID }),
      stopContainers: ({ context }, { graceSeconds }) => worker(context.uid)?.sendContainers({ type: 'STOP', graceSeconds }),
    },
  });
  return { pod, container };
}
