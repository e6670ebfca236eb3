/**
 * The allocations bucket: one JetStream KV bucket beside the object store
 * (`<store bucket>-allocations`, so `keelson-allocations`), one key per cluster
 * IP or node port in use, holding its owner Service (namespace, name, uid):
 *
 *   ip.10.96.0.10        → {"namespace":"default","name":"dns","uid":"…"}
 *   nodeport.30080       → {"namespace":"shop","name":"web","uid":"…"}
 *
 * Taking a value is `kv.create` (compare-and-swap: it fails when the key is
 * held), so API servers never hand out one value twice, whether they race in
 * one process, across processes or across restarts. Giving it back is a delete
 * at the revision read, by the owner's uid only. A watch keeps a local view of
 * the whole bucket, so that a pick skips taken values without a round trip;
 * the view is only a hint, the create decides.
 */
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { ApiError, errors } from '../../lib/errors/index.js';
import { CONFIRM_AFTER_MS, followKv, isCasFailure, type Follow } from '../../lib/kv/index.js';

/** The Service a value belongs to. */
export type Owner = { namespace: string; name: string; uid: string };

/** A held key as the bucket shows it. */
export type Allocation = {
  key: string;
  owner: Owner;
  revision: number;
  /** When the key was last written (the server's clock). */
  createdMs: number;
};

/**
 * What a claim found: `claimed` — the key is ours now; `held` — it already was
 * (same uid); `taken` — another Service holds it.
 */
export type Claim = { outcome: 'claimed' } | { outcome: 'held' } | { outcome: 'taken'; holder?: Allocation };

export function allocationsBucketName(storeBucket: string): string {
  return `${storeBucket}-allocations`;
}

const IP_PREFIX = 'ip.';
const NODE_PORT_PREFIX = 'nodeport.';

export function ipKey(ip: string): string {
  return `${IP_PREFIX}${ip}`;
}

/** One key per node port whatever the protocol: as in Kubernetes, only one Service holds a node port (its TCP and UDP ports may share it). */
export function nodePortKey(port: number): string {
  return `${NODE_PORT_PREFIX}${port}`;
}

/** The value a key stands for (the inverse of ipKey / nodePortKey); undefined for a key of neither shape. */
export function parseKey(key: string): { ip: string } | { nodePort: number } | undefined {
  if (key.startsWith(IP_PREFIX)) return { ip: key.slice(IP_PREFIX.length) };
  if (key.startsWith(NODE_PORT_PREFIX)) return { nodePort: Number(key.slice(NODE_PORT_PREFIX.length)) };
  return undefined;
}


/** How long `start` waits for the initial replay before serving with a partial view. */
const SYNC_TIMEOUT_MS = 5_000;


/**
 * Anything else (a timeout, "jetstream is not enabled" during a leader
 * election) is a 503 for the client to retry; a claim whose answer was lost
 * may have landed, and the repair loop releases it if nothing uses it.
 */
function unavailable(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return errors.unavailable(`the allocations bucket is unavailable: ${e instanceof Error ? e.message : String(e)}`, e);
}
const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function decode(e: KvEntry): Allocation | undefined {
  if (e.operation !== 'PUT') return undefined;
  let o: Partial<Owner>;
  try {
    o = e.json<Partial<Owner>>();
  } catch {
    return undefined;
  }
  if (typeof o.uid !== 'string') return undefined;
  return { key: e.key, owner: { namespace: String(o.namespace ?? ''), name: String(o.name ?? ''), uid: o.uid }, revision: e.revision, createdMs: e.created.getTime() };
}

export type BucketOptions = {
  /** The object store's bucket; this one is named after it. */
  storeBucket: string;
  /** Stream replicas when creating (those of the object store's bucket). */
  replicas: number;
  log?: (message: string) => void;
};

export class AllocationsBucket {
  /** Live keys as last seen, plus the revision of each deletion seen (to drop stale replays). */
  private readonly view = new Map<string, Allocation>();
  private readonly deletedAt = new Map<string, number>();
  private follow?: Follow;

  private constructor(
    private readonly nc: NatsConnection,
    readonly kv: KV,
    readonly name: string,
    readonly replicas: number,
    private readonly log: (message: string) => void,
  ) {}

  static async open(nc: NatsConnection, opts: BucketOptions): Promise<AllocationsBucket> {
    const name = allocationsBucketName(opts.storeBucket);
    const kvm = new Kvm(jetstream(nc, { timeout: 10_000 }));
    const kv = await kvm.create(name, {
      history: 1,
      replicas: opts.replicas,
      storage: 'file',
      // Claims are confirmed by reading the stream leader; a replica's read could be stale.
      allow_direct: false,
    } as never);
    const replicas = (await kv.status()).streamInfo.config.num_replicas || 1;
    return new AllocationsBucket(nc, kv, name, replicas, opts.log ?? (() => undefined));
  }

  /** Starts the local view; resolves once the bucket's current keys are in (or after a bounded wait). */
  async start(): Promise<void> {
    const empty = (await this.kv.status()).values === 0;
    let synced!: () => void;
    const ready = new Promise<void>((r) => (synced = r));
    if (empty) synced();
    this.follow = followKv(this.nc, this.kv, { key: '>', log: (m) => this.log(`allocations bucket ${this.name}: ${m}`) }, (e) => {
      this.observe(e);
      // The last entry of the initial replay is the first one marked as an update (FACTS.md).
      if ((e as { isUpdate?: boolean }).isUpdate) synced();
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ready, new Promise<void>((r) => (timer = setTimeout(r, SYNC_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    await this.follow?.stop();
  }

  /** The holder of `key` in the local view. */
  peek(key: string): Allocation | undefined {
    return this.view.get(key);
  }

  /** Every held key in the local view. */
  entries(): Allocation[] {
    return [...this.view.values()];
  }

  /** The holder of `key` as the stream leader has it now. */
  async read(key: string): Promise<Allocation | undefined> {
    const e = await this.kv.get(key).catch((err) => {
      throw unavailable(err);
    });
    if (e) this.observe(e);
    return e ? decode(e) : undefined;
  }

  /** Takes `key` for `owner` unless another Service holds it. */
  async claim(key: string, owner: Owner): Promise<Claim> {
    let revision: number;
    try {
      revision = await this.kv.create(key, encoder.encode(JSON.stringify(owner)));
    } catch (e) {
      if (!isCasFailure(e)) throw unavailable(e);
      const holder = await this.read(key);
      return holder?.owner.uid === owner.uid ? { outcome: 'held' } : { outcome: 'taken', holder };
    }
    this.remember({ key, owner, revision, createdMs: Date.now() });
    if (this.replicas > 1) {
      await sleep(CONFIRM_AFTER_MS);
      const now = await this.read(key);
      if (now?.revision !== revision) return now?.owner.uid === owner.uid ? { outcome: 'held' } : { outcome: 'taken', holder: now };
    }
    return { outcome: 'claimed' };
  }

  /** Gives `key` back if `uid` holds it; false when it did not (or it changed meanwhile). */
  async release(key: string, uid: string): Promise<boolean> {
    const holder = await this.read(key);
    if (!holder || holder.owner.uid !== uid) return false;
    return this.releaseAt(holder);
  }

  /** Deletes the key only if it is still at the allocation's revision (repair). */
  async releaseAt(a: Allocation): Promise<boolean> {
    try {
      await this.kv.delete(a.key, { previousSeq: a.revision });
    } catch (e) {
      if (isCasFailure(e)) return false;
      throw unavailable(e);
    }
    this.forget(a.key, a.revision + 1);
    return true;
  }

  private observe(e: KvEntry): void {
    const a = decode(e);
    if (a) this.remember(a);
    else this.forget(e.key, e.revision);
  }

  private remember(a: Allocation): void {
    const seen = Math.max(this.view.get(a.key)?.revision ?? 0, this.deletedAt.get(a.key) ?? 0);
    if (a.revision < seen) return;
    this.view.set(a.key, a);
    this.deletedAt.delete(a.key);
  }

  private forget(key: string, revision: number): void {
    if ((this.view.get(key)?.revision ?? 0) > revision) return;
    this.view.delete(key);
    this.deletedAt.set(key, revision);
  }
}
