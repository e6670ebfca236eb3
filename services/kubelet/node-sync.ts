/**
 * The kubelet's writes about its own node, through the API: register the Node,
 * renew its Lease, report its status. Each one reads what is stored and writes
 * with compare-and-swap, re-reading on Conflict; a NotFound from a status report
 * is passed on (the Node was deleted: the machine registers again).
 */
import type { KObject } from '../lib/api/resources.js';
import type { KeelsonClient } from '../lib/client/index.js';
import { isApiError } from '../lib/errors/index.js';
import { readDynamicHostFacts, readStaticHostFacts } from './host-facts.js';
import {
  buildLease,
  buildNode,
  buildNodeStatus,
  NODE_LEASE_NAMESPACE,
  rfc3339,
  statusSignature,
  type NodeCondition,
  type NodeStatus,
  type StaticHostFacts,
} from './node-status.js';
import type { ContainerRuntime } from './runtime/index.js';

export type NodeSyncOptions = {
  client: KeelsonClient;
  /**
   * For lease renewals (default `client`): as Kubernetes' kubelet has a heartbeat
   * client, its timeout no longer than a heartbeat, so a request lost with an API
   * server is given up and retried well within the node's grace period.
   */
  heartbeatClient?: KeelsonClient;
  nodeName: string;
  runtime: ContainerRuntime;
  /** The filesystem whose size is the node's ephemeral-storage. */
  dataDir: string;
  labels?: Record<string, string>;
  /** The clock, for tests: epoch milliseconds with sub-millisecond digits. */
  now?: () => number;
};

const CONFLICT_RETRIES = 5;

const isReason = (e: unknown, reason: string) => isApiError(e) && e.reason === reason;

/** Runs `write` again (it re-reads) while it fails with Conflict, a few times. */
async function retryOnConflict<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (e) {
      if (!isReason(e, 'Conflict') || attempt >= CONFLICT_RETRIES) throw e;
    }
  }
}

export class NodeSync {
  private readonly facts: StaticHostFacts;
  private readonly now: () => number;
  private nodeUid?: string;
  private lease?: KObject;
  /** What the last successful status write said, heartbeats aside. */
  private lastSignature?: string;

  constructor(private readonly opts: NodeSyncOptions) {
    this.facts = readStaticHostFacts(opts.dataDir);
    this.now = opts.now ?? (() => performance.timeOrigin + performance.now());
  }

  private get client() {
    return this.opts.client;
  }

  /** The lease's client: its requests time out within a heartbeat. */
  private get heartbeat() {
    return this.opts.heartbeatClient ?? this.opts.client;
  }

  /** The status as it would be written now, over the stored conditions. */
  private async status(previous?: NodeCondition[], notReadyMessage?: string): Promise<NodeStatus> {
    const [runtime, images] = await Promise.all([this.opts.runtime.info(), this.opts.runtime.listImages()]);
    return buildNodeStatus({
      nodeName: this.opts.nodeName,
      facts: { ...this.facts, ...readDynamicHostFacts(this.opts.dataDir) },
      runtime,
      images,
      previous,
      now: rfc3339(this.now()),
      notReadyMessage,
    });
  }

  /** Creates the Node, or — a restarted kubelet — brings the existing one up to date. */
  async register(): Promise<void> {
    const { nodeName } = this.opts;
    const status = await this.status();
    const node = buildNode(nodeName, status, this.opts.labels);
    try {
      const created = await this.client.create(node);
      this.registered(created, status);
      return;
    } catch (e) {
      if (!isReason(e, 'AlreadyExists')) throw e;
    }
    const wanted = node.metadata!.labels!;
    const current = await retryOnConflict(async () => {
      const stored = await this.client.get('Node', undefined, nodeName);
      const labels = stored.metadata?.labels ?? {};
      if (Object.entries(wanted).every(([k, v]) => labels[k] === v)) return stored;
      return this.client.update({ ...stored, metadata: { ...stored.metadata, labels: { ...labels, ...wanted } } });
    });
    this.nodeUid = current.metadata?.uid;
    await this.reportStatus();
  }

  private registered(node: KObject, status: NodeStatus): void {
    this.nodeUid = node.metadata?.uid;
    this.lastSignature = statusSignature(status);
  }

  /**
   * Writes the node status through `/status`, over the stored one: heartbeats
   * move, transition times only where a condition changed.
   */
  async reportStatus(notReadyMessage?: string): Promise<void> {
    const written = await retryOnConflict(async () => {
      const stored = await this.client.get('Node', undefined, this.opts.nodeName);
      const previous = ((stored.status ?? {}) as { conditions?: NodeCondition[] }).conditions;
      const status = await this.status(previous, notReadyMessage);
      await this.client.updateStatus({ ...stored, status: { ...(stored.status ?? {}), ...status } });
      this.nodeUid = stored.metadata?.uid;
      return status;
    });
    this.lastSignature = statusSignature(written);
  }

  /** True when a report now would change more than the heartbeats. */
  async statusChanged(): Promise<boolean> {
    if (this.lastSignature === undefined) return false;
    return statusSignature(await this.status()) !== this.lastSignature;
  }

  /** Creates or renews the node's Lease in kube-node-lease. */
  async renewLease(): Promise<void> {
    const { nodeName } = this.opts;
    const owner = this.nodeUid ? { uid: this.nodeUid } : undefined;
    if (this.lease) {
      try {
        this.lease = await this.heartbeat.update(buildLease(nodeName, this.now(), owner, this.lease));
        return;
      } catch (e) {
        if (!isReason(e, 'Conflict') && !isReason(e, 'NotFound')) throw e;
        this.lease = undefined; // Someone else wrote it (or deleted it): read it again.
      }
    }
    this.lease = await retryOnConflict(async () => {
      let stored: KObject | undefined;
      try {
        stored = await this.heartbeat.get('Lease', NODE_LEASE_NAMESPACE, nodeName);
      } catch (e) {
        if (!isReason(e, 'NotFound')) throw e;
      }
      const lease = buildLease(nodeName, this.now(), owner, stored);
      if (stored) return this.heartbeat.update(lease);
      const spec = lease.spec as Record<string, unknown>;
      return this.heartbeat.create({ ...lease, spec: { ...spec, acquireTime: spec.renewTime, leaseTransitions: 0 } });
    });
  }
}
