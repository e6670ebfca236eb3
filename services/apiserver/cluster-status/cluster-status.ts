/**
 * Gathers the cluster status report from one NATS connection: the masters from
 * the apiservers TTL bucket, the NATS peers from the streams, the election
 * leaders from the elections bucket, the nodes from the object store (through
 * whatever lister the caller has: the API server's registry, or the store read
 * directly by the CLI). Read-only: it opens buckets, never creates them.
 */
import { hostname } from 'node:os';
import type { NatsConnection } from '@nats-io/nats-core';
import { resourceForKind, type KObject, type ResourceInfo } from '../../lib/api/resources.js';
import { errors } from '../../lib/errors/index.js';
import { ElectionsBucket } from '../../lib/leader-election/index.js';
import { DEFAULT_BUCKET, Store } from '../../lib/store/index.js';
import { ApiServersBucket } from '../kubernetes-service/index.js';
import { gatherNats } from './nats-peers.js';
import type { ClusterStatus, LeadersSection, Master, MastersSection, NodesSection, NodeStatus, StatusSource } from './report.js';

/** Lists the objects of a resource in a namespace ('' for cluster-scoped or all). */
export type ObjectLister = (resource: ResourceInfo, namespace: string) => Promise<KObject[]>;

export type ClusterStatusOptions = {
  /** The object store's bucket (default `keelson`): the apiservers bucket sits beside it. */
  storeBucket?: string;
  /** Where Nodes and Leases are read; default: the store bucket, read directly. */
  objects?: ObjectLister;
  source?: Partial<StatusSource>;
  /** Bound on each section (default 5 s). */
  timeoutMs?: number;
  nowMs?: number;
};

const NODES = resourceForKind('Node')!;
const LEASES = resourceForKind('Lease')!;
const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/**
 * The report. Sections fail on their own (`error`). When everything read over
 * NATS failed (masters, NATS, leaders) the connection answers nothing — the
 * nodes alone may still come from a cache, but nothing else can be trusted —
 * and it throws ServiceUnavailable instead.
 */
export async function clusterStatus(nc: NatsConnection, opts: ClusterStatusOptions = {}): Promise<ClusterStatus> {
  const nowMs = opts.nowMs ?? Date.now();
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const storeBucket = opts.storeBucket ?? DEFAULT_BUCKET;
  const objects = opts.objects ?? storeLister(nc, storeBucket);
  const [masters, nats, leaders, nodes] = await Promise.all([
    section('masters', timeoutMs, () => gatherMasters(nc, storeBucket, nowMs, timeoutMs), { leaseMs: 0, items: [] }),
    section('NATS', timeoutMs, () => gatherNats(nc, timeoutMs), { clustered: false, peers: [], streams: [] }),
    section('leaders', timeoutMs, () => gatherLeaders(nc, timeoutMs), { leaseMs: 0, items: [] }),
    section('nodes', timeoutMs, () => gatherNodes(objects, nowMs), { items: [] }),
  ]);
  const overNats = [masters, nats, leaders];
  if (overNats.every((s) => s.error)) throw errors.unavailable(`could not gather the cluster status over NATS: ${overNats.map((s) => s.error).join('; ')}`);
  return {
    kind: 'ClusterStatus',
    apiVersion: 'keelson.io/v1',
    time: new Date(nowMs).toISOString(),
    source: { via: 'nats', hostname: hostname(), ...opts.source },
    masters,
    nats,
    leaders,
    nodes,
  };
}

/** Runs one section's gathering, bounded; a failure becomes the empty section with `error`. */
async function section<T extends object>(what: string, timeoutMs: number, gather: () => Promise<T>, empty: T): Promise<T & { error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([gather(), timeout]);
  } catch (e) {
    return { ...empty, error: `${what}: ${(e as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

/** The Store's bucket, bound (never created) on first use. */
function storeLister(nc: NatsConnection, bucket: string): ObjectLister {
  let store: Promise<Store> | undefined;
  return async (resource, namespace) => {
    store ??= Store.open(nc, { bucket, bindOnly: true });
    return (await (await store).list(resource, namespace || undefined)).items;
  };
}

async function gatherMasters(nc: NatsConnection, storeBucket: string, nowMs: number, timeoutMs: number): Promise<MastersSection> {
  const bucket = await ApiServersBucket.open(nc, { storeBucket, bindOnly: true, timeoutMs });
  const items: Master[] = (await bucket.list()).map((r) => ({
    hostname: r.hostname,
    address: r.address,
    port: r.port,
    renewTime: r.renewTime,
    lastSeenAgoMs: Math.max(0, nowMs - r.writtenMs),
  }));
  items.sort((a, b) => a.hostname.localeCompare(b.hostname) || a.address.localeCompare(b.address) || a.port - b.port);
  return { leaseMs: bucket.leaseMs, items };
}

async function gatherLeaders(nc: NatsConnection, timeoutMs: number): Promise<LeadersSection> {
  try {
    const bucket = await ElectionsBucket.open(nc, { bindOnly: true, timeoutMs });
    return { leaseMs: bucket.leaseMs, items: await bucket.list() };
  } catch (e) {
    // No election was ever held: nobody leads, which the table shows.
    if (/stream not found/i.test((e as Error).message)) return { leaseMs: 0, items: [] };
    throw e;
  }
}

async function gatherNodes(list: ObjectLister, nowMs: number): Promise<NodesSection> {
  const [nodes, leases] = await Promise.all([list(NODES, ''), list(LEASES, NODE_LEASE_NAMESPACE)]);
  const leaseOf = new Map(leases.map((l) => [l.metadata?.name ?? '', l]));
  const items = nodes.map((n) => nodeStatus(n, leaseOf.get(n.metadata?.name ?? ''), nowMs));
  return { items: items.sort((a, b) => a.name.localeCompare(b.name)) };
}

type Condition = { type?: string; status?: string; reason?: string };

/** A Node and its heartbeat Lease as one row (pure). */
export function nodeStatus(node: KObject, lease: KObject | undefined, nowMs: number): NodeStatus {
  const conditions = ((node.status as { conditions?: Condition[] } | undefined)?.conditions ?? []) as Condition[];
  const ready = conditions.find((c) => c.type === 'Ready');
  const status = ready?.status === 'True' || ready?.status === 'False' ? ready.status : 'Unknown';
  const spec = (lease?.spec ?? {}) as { holderIdentity?: string; renewTime?: string };
  const renewed = spec.renewTime ? Date.parse(spec.renewTime) : NaN;
  return {
    name: node.metadata?.name ?? '',
    ready: status,
    ...(ready?.reason ? { reason: ready.reason } : {}),
    unschedulable: !!(node.spec as { unschedulable?: boolean } | undefined)?.unschedulable,
    ...(spec.renewTime && Number.isFinite(renewed)
      ? { lease: { ...(spec.holderIdentity ? { holderIdentity: spec.holderIdentity } : {}), renewTime: spec.renewTime, renewedAgoMs: Math.max(0, nowMs - renewed) } }
      : {}),
  };
}
