/**
 * The kubelet service: its lifecycle statechart (statecharts/kubelet.machine.ts)
 * with the real work plugged in — registering the Node, renewing its Lease,
 * reporting its status, running the pods bound to the node — as one XState
 * actor. `startKubelet` resolves once the node is registered (Ready) and its
 * pods are being run.
 */
import { mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { createActor, fromPromise, type ActorRefFrom } from 'xstate';
import type { BackOff } from '../../statecharts/container.machine.js';
import { kubeletMachine } from '../../statecharts/kubelet.machine.js';
import { KeelsonClient } from '../lib/client/index.js';
import { startInspector } from '../lib/inspect/index.js';
import { connectNats, natsTarget, onNatsStatus, reconnectElsewhere, type NatsAddress, type NatsConnection } from '../lib/nats/index.js';
import { internalIPv4 } from './host-facts.js';
import { NodeSync } from './node-sync.js';
import { HeartbeatFailover } from './heartbeat-failover.js';
import { PodManager } from './pods/index.js';
import { serveStreaming, type Streaming } from './streaming/index.js';
import { createRuntime, type ContainerRuntime, type RuntimeName } from './runtime/index.js';

export { KUBELET_VERSION, LEASE_DURATION_SECONDS, NODE_LEASE_NAMESPACE } from './node-status.js';

export type KubeletOptions = {
  nats: NatsAddress;
  nodeName: string;
  /** The caller's: the kubelet does not close it. */
  runtime: ContainerRuntime;
  /** Lease renewal period (default 2 s); also how often the status is checked for changes. */
  heartbeatMs?: number;
  /** Status report period when nothing changed (default 10 s). */
  statusMs?: number;
  /** Node labels on top of kubernetes.io/hostname, /os and /arch. */
  labels?: Record<string, string>;
  /** Whose filesystem is the node's ephemeral-storage (default: the OS temp dir). */
  dataDir?: string;
  /** The store bucket the API servers use (default `keelson`): pods are read through it. */
  bucket?: string;
  /** Per API request (default 5 s); lease renewals give up after a heartbeat at most. */
  requestTimeoutMs?: number;
  /** Where problems are told (registration retries, failed renewals); silent by default. */
  log?: (message: string) => void;
  /**
   * Back-off of container restarts (CrashLoopBackOff) and image pulls: the first
   * wait and the cap, doubling in between; an instance that ran 2 × the cap resets
   * it. Default Kubernetes' 10 s doubling to 5 min; tests use seconds.
   */
  crashBackOff?: BackOff;
};

export type Kubelet = {
  actor: ActorRefFrom<typeof kubeletMachine>;
  nodeName: string;
  /** Marks the node not ready (best effort), stops renewing and leaves NATS. The Node stays. */
  stop(): Promise<void>;
};

/** How long shutdown waits to say "not ready" before leaving anyway. */
const SHUTDOWN_REPORT_MS = 2_000;
/** How long the heartbeat failover waits for its server's answer to a ping. */
const LINK_CHECK_MS = 500;
/** How often a kubelet waiting for its first NATS connection says so. */
const NATS_WAIT_LOG_MS = 5_000;

export async function startKubelet(opts: KubeletOptions): Promise<Kubelet> {
  const heartbeatMs = opts.heartbeatMs ?? 2_000;
  const statusMs = opts.statusMs ?? 10_000;
  const log = opts.log ?? (() => undefined);
  const b = opts.crashBackOff;
  if (b && !(b.initialMs > 0 && b.maxMs >= b.initialMs)) {
    throw new Error(`crashBackOff needs initialMs > 0 and maxMs >= initialMs, not ${JSON.stringify(b)}`);
  }
  // As Kubernetes' kubelet waits for its API server: a node started before the control
  // plane (a cluster coming up, a machine booting) keeps trying, and says so.
  const servers = natsTarget(opts.nats).servers.join(', ');
  const waiting = setInterval(() => log(`kubelet ${opts.nodeName}: not connected to NATS at ${servers} yet (not listening, unreachable or refusing its credentials); still trying`), NATS_WAIT_LOG_MS);
  let nc: NatsConnection;
  try {
    nc = await connectNats(opts.nats, `keelson-kubelet-${opts.nodeName}`, { waitForServer: true });
  } finally {
    clearInterval(waiting);
  }
  const client = new KeelsonClient(nc, { timeoutMs: opts.requestTimeoutMs ?? 5_000, bucket: opts.bucket });
  const heartbeatClient = new KeelsonClient(nc, { timeoutMs: Math.min(heartbeatMs, opts.requestTimeoutMs ?? 5_000), bucket: opts.bucket });
  const sync = new NodeSync({ client, heartbeatClient, nodeName: opts.nodeName, runtime: opts.runtime, dataDir: opts.dataDir ?? tmpdir(), labels: opts.labels });

  const inspector = startInspector(nc, `kubelet/${opts.nodeName}`);
  const pods = new PodManager({ client, runtime: opts.runtime, nodeName: opts.nodeName, hostIP: internalIPv4(), crashBackOff: opts.crashBackOff, inspector, log });
  let streaming: Streaming | undefined;
  let natsUp = true;
  const failover = new HeartbeatFailover({
    reconnect: () => reconnectElsewhere(nc),
    connected: () => natsUp && !nc.isClosed(),
    linkAlive: () => Promise.race([nc.rtt().then(() => true, () => false), sleep(LINK_CHECK_MS).then(() => false)]),
    log: (m) => log(`kubelet ${opts.nodeName}: ${m}`),
  });
  const machine = kubeletMachine.provide({
    actors: {
      registerNode: fromPromise(() => sync.register()),
      renewLease: fromPromise(async () => {
        try {
          await sync.renewLease();
          failover.succeeded();
        } catch (e) {
          void failover.failed(e);
          throw e;
        }
      }),
      reportStatus: fromPromise(() => sync.reportStatus()),
      drain: fromPromise(async () => {
        clearInterval(checker);
        // Pods keep running (as with Kubernetes' kubelet): the next kubelet adopts them.
        streaming?.close();
        await pods.stop();
        await inspector.stop();
        // With NATS away nobody can hear that the node goes; the lease simply runs out.
        if (nc.isClosed() || !natsUp) return;
        await Promise.race([sync.reportStatus('node is shutting down').catch(() => undefined), sleep(SHUTDOWN_REPORT_MS)]);
        // A drain waits for the server: with NATS gone it would wait forever.
        await Promise.race([nc.drain().catch(() => undefined), sleep(SHUTDOWN_REPORT_MS)]);
      }),
    },
  });
  const actor = createActor(machine, {
    systemId: `kubelet-${opts.nodeName}`,
    input: { nodeName: opts.nodeName, heartbeatMs, statusMs },
    inspect: inspector.track(`kubelet/${opts.nodeName}`, 'kubelet').inspect,
  });

  let lastLogged: string | undefined;
  actor.subscribe((s) => {
    if (s.context.lastError && s.context.lastError !== lastLogged) log(`kubelet ${opts.nodeName}: ${s.context.lastError}`);
    lastLogged = s.context.lastError;
  });

  // Between status periods, a change (pressure, images, addresses) is reported at once.
  let checking = false;
  const checker = setInterval(() => {
    if (checking || !actor.getSnapshot().matches({ Online: 'Ready' })) return;
    checking = true;
    sync
      .statusChanged()
      .then((changed) => changed && actor.send({ type: 'NODE_STATUS_CHANGED' }))
      .catch(() => undefined)
      .finally(() => (checking = false));
  }, heartbeatMs);
  checker.unref();

  const ready = new Promise<void>((resolve, reject) => {
    actor.subscribe((s) => {
      if (s.matches({ Online: 'Ready' })) resolve();
      if (s.status === 'done') reject(new Error(`kubelet ${opts.nodeName} stopped before it was registered${s.context.lastError ? `: ${s.context.lastError}` : ''}`));
    });
  });
  actor.start();
  void onNatsStatus(nc, (type) => {
    natsUp = type === 'NATS_RECONNECTED';
    if (natsUp) failover.reconnected();
    actor.send({ type });
  });

  const stop = async () => {
    if (actor.getSnapshot().status === 'done') return;
    const done = new Promise<void>((r) => actor.subscribe((s) => s.status === 'done' && r()));
    actor.send({ type: 'SHUTDOWN' });
    await done;
    clearInterval(checker);
    if (!nc.isClosed()) await nc.close().catch(() => undefined);
  };
  try {
    await ready;
    await pods.start();
    streaming = serveStreaming(nc, opts.nodeName, opts.runtime);
  } catch (e) {
    await stop();
    throw e;
  }
  return { actor, nodeName: opts.nodeName, stop };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Feeds NATS connection changes to the lifecycle machine. */
export const RUNTIME_NAMES: readonly RuntimeName[] = ['docker', 'process', 'fake'];

/** `docker`, `process`, `fake`, or `auto` (absent): docker when an engine answers, else process. */
export function parseRuntimeName(value: string | undefined): RuntimeName | 'auto' {
  if (value === undefined || value === 'auto') return 'auto';
  if ((RUNTIME_NAMES as readonly string[]).includes(value)) return value as RuntimeName;
  throw new Error(`unknown runtime "${value}"; use one of ${RUNTIME_NAMES.join(', ')}`);
}

/** This machine's hostname as a node name (a DNS-1123 subdomain). */
export function defaultNodeName(host = hostname()): string {
  const name = host
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return name || 'keelson-node';
}

export type NodeAgentOptions = Omit<KubeletOptions, 'runtime' | 'dataDir'> & {
  runtime: RuntimeName | 'auto';
  /** The node's own folder: runtime state, pod folders, logs. Created if missing. */
  dataDir: string;
  /** docker: the network pods join (default `keelson`; the compose cluster's workers share one with the masters). */
  podNetwork?: string;
};

/**
 * A kubelet with a runtime of its own, as `keelson kubelet` and `keelson up` run
 * it: `stop()` stops the kubelet, then closes the runtime (containers keep running).
 */
export async function startNodeAgent(opts: NodeAgentOptions): Promise<Kubelet & { runtime: ContainerRuntime }> {
  mkdirSync(opts.dataDir, { recursive: true });
  const runtime = await createRuntime({
    kind: opts.runtime,
    nodeName: opts.nodeName,
    dataDir: opts.dataDir,
    ...(opts.podNetwork ? { docker: { network: opts.podNetwork } } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  let kubelet: Kubelet;
  try {
    kubelet = await startKubelet({ ...opts, runtime, dataDir: opts.dataDir });
  } catch (e) {
    await runtime.close().catch(() => undefined);
    throw e;
  }
  return {
    ...kubelet,
    runtime,
    stop: async () => {
      await kubelet.stop();
      await runtime.close().catch(() => undefined);
    },
  };
}
