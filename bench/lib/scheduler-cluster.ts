/**
 * The cluster the scheduler benchmark schedules onto, and how it watches the
 * result: hollow Node objects (no kubelet behind them: Ready, allocatable,
 * zones, a few images), pods shaped like a Deployment's (bench/lib/pods.ts,
 * plus a controller ownerReference), and a raw KV watch that notes when each
 * pod is first seen bound.
 */
import { KvWatchInclude, type KV } from '@nats-io/kv';
import type { KObject } from '../../services/lib/api/resources.js';
import { benchPod } from './pods.js';
import { nowMs } from './stats.js';

export const SCHED_READY = 'SCHED-READY';
export const SCHED_STATS = 'SCHED-STATS';

export type SchedulerChildConfig = { natsUrl: string; bindParallelism?: number; percentageOfNodesToScore?: number; eventsInFlight?: number };

export const NODE_PREFIX = 'bench-node-';
export const ZONES = 3;
/** ReplicaSets the pods belong to (the spreading score groups by them). */
export const OWNERS = 10;
const BIG_IMAGE = 'registry.example.com/shop/checkout-service:2.14.1';
const MB = 1024 * 1024;

export function nodeName(i: number): string {
  return `${NODE_PREFIX}${String(i).padStart(5, '0')}`;
}

/** A Node as a kubelet would register it: Ready, 32 cores, 128 GiB, 110 pods; every third one holds the pods' image. */
export function benchNode(i: number): KObject {
  const name = nodeName(i);
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const condition = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
  const resources = { cpu: '32', memory: '128Gi', pods: '110', 'ephemeral-storage': '100Gi' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': `zone-${i % ZONES}`,
      },
    },
    spec: {},
    status: {
      capacity: resources,
      allocatable: resources,
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [{ type: 'Hostname', address: name }],
      nodeInfo: { kubeletVersion: 'v1.32.0-keelson', containerRuntimeVersion: 'fake://0.1.0', operatingSystem: 'linux', architecture: 'amd64' },
      images: [
        ...(i % 3 === 0 ? [{ names: [BIG_IMAGE], sizeBytes: 300 * MB }] : []),
        { names: ['docker.io/library/busybox:1.36'], sizeBytes: 4 * MB },
      ],
    },
  };
}

/** bench/lib/pods.ts's pod, owned by one of OWNERS ReplicaSets. */
export function ownedPod(namespace: string, name: string, i: number): KObject {
  const pod = benchPod(namespace, name);
  const owner = i % OWNERS;
  pod.metadata!.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `checkout-${owner}`, uid: `bench-rs-${owner}`, controller: true }];
  return pod;
}

/**
 * Watches `pods.<namespace>.>` in the store, raw (no decode: a byte search for
 * the node name prefix tells a bound pod), and notes when each pod is first
 * seen bound.
 */
export class BindingObserver {
  private readonly boundAt = new Map<string, number>();
  private readonly perNamespace = new Map<string, number>();
  private readonly waiters: { ns: string; count: number; resolve: () => void }[] = [];
  private readonly needle = Buffer.from(NODE_PREFIX);
  private iter?: { stop(): void };
  private loop?: Promise<void>;

  async start(kv: KV): Promise<void> {
    const iter = await kv.watch({ key: 'pods.>', include: KvWatchInclude.UpdatesOnly });
    this.iter = iter;
    this.loop = (async () => {
      for await (const e of iter) {
        if (e.operation !== 'PUT') continue;
        if (Buffer.from(e.value.buffer, e.value.byteOffset, e.value.byteLength).indexOf(this.needle) < 0) continue;
        const key = e.key.slice('pods.'.length);
        if (this.boundAt.has(key)) continue;
        this.boundAt.set(key, nowMs());
        const ns = key.slice(0, key.indexOf('.'));
        const n = (this.perNamespace.get(ns) ?? 0) + 1;
        this.perNamespace.set(ns, n);
        for (let i = this.waiters.length - 1; i >= 0; i--) {
          const w = this.waiters[i]!;
          if (w.ns === ns && n >= w.count) {
            this.waiters.splice(i, 1);
            w.resolve();
          }
        }
      }
    })();
  }

  bound(namespace: string): number {
    return this.perNamespace.get(namespace) ?? 0;
  }

  /** When the pod was first seen bound (bench clock, ms), if it was. */
  boundTime(namespace: string, name: string): number | undefined {
    return this.boundAt.get(`${namespace}.${name}`);
  }

  /** Resolves once `count` pods of the namespace were seen bound; rejects after `timeoutMs`. */
  waitFor(namespace: string, count: number, timeoutMs: number): Promise<void> {
    if (this.bound(namespace) >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.bound(namespace)} of ${count} pods in ${namespace} were bound after ${timeoutMs / 1000} s`)), timeoutMs);
      this.waiters.push({ ns: namespace, count, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  async stop(): Promise<void> {
    this.iter?.stop();
    await Promise.race([this.loop, new Promise((r) => setTimeout(r, 2_000))]);
  }
}
