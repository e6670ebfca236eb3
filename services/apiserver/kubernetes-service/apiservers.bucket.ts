/**
 * Which API servers are alive, for the `default/kubernetes` Endpoints: a KV
 * bucket beside the object store (`<store bucket>-apiservers`) whose TTL is
 * the lease (nats-server 2.9 honours only a bucket's TTL). Each API server
 * writes its own key (`<address>_<port>`) every few seconds and deletes it on
 * a graceful stop; a key not rewritten within the TTL expires on its own, so
 * the live keys are the running API servers — as Kubernetes' lease endpoint
 * reconciler keeps `/masterleases/<ip>` keys with a TTL in etcd.
 *
 * Why not a Lease object per API server: its renewals would be store writes
 * every few seconds that every watcher of leases sees, and expired ones would
 * need collecting; the TTL bucket expires keys by itself, outside the store.
 */
import { jetstream, type JetStreamManager } from '@nats-io/jetstream';
import { bucketKeys } from '../../lib/kv/index.js';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';

/** One running API server. */
export type ApiServerRecord = { address: string; port: number; hostname: string; renewTime: string };

export function apiserversBucketName(storeBucket: string): string {
  return `${storeBucket}-apiservers`;
}

/** KV keys take letters, digits and `-_=./`: an IPv6 address's colons become dashes. */
export function recordKey(address: string, port: number): string {
  return `${address.replace(/:/g, '-')}_${port}`;
}

export class ApiServersBucket {
  private constructor(
    readonly kv: KV,
    /** Kept: the list is read every few seconds (`bucketKeys`). */
    private readonly jsm: JetStreamManager,
    readonly name: string,
    /** The bucket's TTL: how long a record outlives its last write. */
    readonly leaseMs: number,
  ) {}

  /** Creates the bucket when missing (an API server), or only binds to it (`bindOnly`: readers such as `keelson status`). */
  static async open(
    nc: NatsConnection,
    opts: { storeBucket: string; replicas?: number; leaseMs?: number; bindOnly?: boolean; timeoutMs?: number },
  ): Promise<ApiServersBucket> {
    const js = jetstream(nc, { timeout: opts.timeoutMs ?? 10_000 });
    const kvm = new Kvm(js);
    const name = apiserversBucketName(opts.storeBucket);
    const kv = opts.bindOnly
      ? await kvm.open(name)
      : await kvm.create(name, { ttl: opts.leaseMs, history: 1, replicas: opts.replicas ?? 1, storage: 'file' } as never);
    return new ApiServersBucket(kv, await js.jetstreamManager(false), name, (await kv.status()).ttl || opts.leaseMs || 0);
  }

  async put(record: ApiServerRecord): Promise<void> {
    await this.kv.put(recordKey(record.address, record.port), JSON.stringify(record));
  }

  async remove(address: string, port: number): Promise<void> {
    await this.kv.delete(recordKey(address, port));
  }

  /** The records of every API server whose key has not expired, with when each was last written. */
  async list(): Promise<(ApiServerRecord & { writtenMs: number })[]> {
    const out: (ApiServerRecord & { writtenMs: number })[] = [];
    for (const k of await bucketKeys(this.jsm, this.name)) {
      const e = await this.kv.get(k);
      if (e?.operation !== 'PUT') continue;
      try {
        const r = e.json<Partial<ApiServerRecord>>();
        if (typeof r.address !== 'string' || typeof r.port !== 'number') continue;
        out.push({ address: r.address, port: r.port, hostname: String(r.hostname ?? ''), renewTime: String(r.renewTime ?? ''), writtenMs: e.created.getTime() });
      } catch {
        // Not a record of ours: ignore it.
      }
    }
    return out;
  }
}
