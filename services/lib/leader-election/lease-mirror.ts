/**
 * The leader as Kubernetes shows it: a coordination.k8s.io/v1 Lease
 * `kube-system/<election>`, written by the leader through the API with its
 * fencing token (so a deposed leader cannot overwrite its successor's). It is a
 * mirror for `kubectl get leases`, not the lock: the KV key is. Written when
 * leadership starts and then every few seconds, not on every renewal.
 */
import type { KObject } from '../api/resources.js';
import type { KeelsonClient } from '../client/index.js';
import { isNotFound } from '../errors/index.js';

export const LEASE_NAMESPACE = 'kube-system';

/** Kubernetes' MicroTime: RFC 3339 with six fractional digits (our clock has three). */
export function microTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/Z$/, '000Z');
}

export type LeaseSpec = {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
};

export class LeaseMirror {
  /** Fixed at the first write of a term: one more than before if the holder changed. */
  private transitions?: number;

  constructor(
    /** A client whose writes carry the leader's token. */
    private readonly client: KeelsonClient,
    readonly election: string,
    readonly identity: string,
    private readonly leaseMs: number,
    private readonly acquiredMs: number,
  ) {}

  /** Creates or updates the Lease with the holder and the time of the last renewal. */
  async write(renewedMs: number): Promise<void> {
    const existing = await this.read();
    const prev = (existing?.spec ?? {}) as Partial<LeaseSpec>;
    this.transitions ??= existing ? (prev.leaseTransitions ?? 0) + (prev.holderIdentity === this.identity ? 0 : 1) : 0;
    const spec: LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      acquireTime: microTime(this.acquiredMs),
      renewTime: microTime(renewedMs),
      leaseTransitions: this.transitions,
    };
    await this.put(existing, spec);
  }

  /** On a graceful release, as Kubernetes' ReleaseOnCancel: no holder, a 1 s lease. */
  async release(nowMs: number): Promise<void> {
    const existing = await this.read();
    if (!existing || (existing.spec as Partial<LeaseSpec> | undefined)?.holderIdentity !== this.identity) return;
    await this.put(existing, {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: microTime(nowMs),
      renewTime: microTime(nowMs),
      leaseTransitions: this.transitions ?? 0,
    });
  }

  private async read(): Promise<KObject | undefined> {
    try {
      return await this.client.get('Lease', LEASE_NAMESPACE, this.election);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  private async put(existing: KObject | undefined, spec: LeaseSpec): Promise<void> {
    if (!existing) {
      await this.client.create({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.election, namespace: LEASE_NAMESPACE },
        spec,
      });
      return;
    }
    // A CAS on the version read: a conflict is retried at the next write.
    await this.client.update({ ...existing, apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', spec: { ...(existing.spec as object), ...spec } });
  }
}
