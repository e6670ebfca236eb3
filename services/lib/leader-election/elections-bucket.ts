/**
 * The elections bucket: one JetStream KV bucket whose TTL is the lease duration
 * (nats-server 2.9 honours only the bucket TTL), one key per election, holding
 * the current leader's record. Acquire = create, renew = update at the last
 * revision, release = delete at the last revision; the revision of the create is
 * the term. Expiry is silent (no watch event): followers time it themselves.
 */
import { jetstream, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { LEASE_LOST, type AcquireOutput, type Holder, type LeaseRef, type RenewOutput } from '../../../statecharts/leader.machine.js';
import { bucketKeys, CONFIRM_AFTER_MS, isCasFailure } from '../kv/index.js';
import { DEFAULT_BUCKET } from '../store/index.js';

export const ELECTIONS_BUCKET = 'keelson-elections';


/** The value of an election's key (JSON). */
export type LeaseRecord = {
  holderIdentity: string;
  /** Random per candidate instance: tells its own key from an older instance of the same identity. */
  instance: string;
  /** The term; 0 in the create, whose own revision is the term. */
  term: number;
  acquireTime: string;
  renewTime: string;
  leaseDurationMs: number;
};

/** An election as the bucket shows it now. */
export type Election = LeaseRecord & { election: string; revision: number; createdMs: number };

export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
  readonly reason = LEASE_LOST;
}


const encoder = new TextEncoder();
const encode = (r: LeaseRecord) => encoder.encode(JSON.stringify(r));

/** The record of a live entry (undefined for a deletion or a value that is not a lease record). */
export function decodeElection(e: KvEntry): Election | undefined {
  if (e.operation !== 'PUT') return undefined;
  let r: Partial<LeaseRecord>;
  try {
    r = e.json<Partial<LeaseRecord>>();
  } catch {
    return undefined;
  }
  if (typeof r.holderIdentity !== 'string') return undefined;
  return {
    holderIdentity: r.holderIdentity,
    instance: String(r.instance ?? ''),
    term: Number(r.term) || e.revision,
    acquireTime: String(r.acquireTime ?? ''),
    renewTime: String(r.renewTime ?? ''),
    leaseDurationMs: Number(r.leaseDurationMs) || 0,
    election: e.key,
    revision: e.revision,
    createdMs: e.created.getTime(),
  };
}

export function holderOf(e: Election): Holder {
  return { identity: e.holderIdentity, term: e.term, revision: e.revision, createdMs: e.createdMs };
}

export type OpenOptions = {
  /** Create the bucket with this TTL if it does not exist; an existing bucket keeps its own. */
  leaseMs?: number;
  /** Stream replicas when creating; default: those of the object store's bucket, else 1. */
  replicas?: number;
  /** Only bind to an existing bucket (fails when there is none). */
  bindOnly?: boolean;
  /** JetStream request timeout. */
  timeoutMs?: number;
};

export class ElectionsBucket {
  private constructor(
    readonly kv: KV,
    private readonly jsm: JetStreamManager,
    /** The bucket's TTL: the real lease duration, whatever was asked for. */
    readonly leaseMs: number,
    readonly replicas: number,
  ) {}

  static async open(nc: NatsConnection, opts: OpenOptions = {}): Promise<ElectionsBucket> {
    const js = jetstream(nc, { timeout: opts.timeoutMs ?? 5_000 });
    const jsm = await js.jetstreamManager(false);
    const kvm = new Kvm(js);
    const create = async () =>
      kvm.create(ELECTIONS_BUCKET, {
        ttl: opts.leaseMs,
        history: 1,
        replicas: opts.replicas ?? (await storeReplicas(jsm)),
        // Survives a restart of every server: a lease must not vanish while its holder still acts.
        storage: 'file',
        // Reads from the stream leader only: a stale read could make a lost lease look held.
        allow_direct: false,
      } as never);
    // On a secured NATS only the API server manages streams (it makes this one at start): the others bind to it.
    const kv = opts.bindOnly
      ? await kvm.open(ELECTIONS_BUCKET)
      : await create().catch((e: Error) => (/Permissions Violation/.test(e.message) ? kvm.open(ELECTIONS_BUCKET) : Promise.reject(e)));
    const status = await kv.status();
    return new ElectionsBucket(kv, jsm, status.ttl, status.streamInfo.config.num_replicas || 1);
  }

  async get(election: string): Promise<Election | undefined> {
    const e = await this.kv.get(election);
    return e ? decodeElection(e) : undefined;
  }

  /** Every election currently held. */
  async list(): Promise<Election[]> {
    const out: Election[] = [];
    for (const key of await bucketKeys(this.jsm, ELECTIONS_BUCKET)) {
      const e = await this.get(key);
      if (e) out.push(e);
    }
    return out.sort((a, b) => a.election.localeCompare(b.election));
  }
}

/** The object store's replicas: the elections bucket lives as long and as safely. */
async function storeReplicas(jsm: JetStreamManager): Promise<number> {
  try {
    return (await jsm.streams.info(`KV_${DEFAULT_BUCKET}`)).config.num_replicas || 1;
  } catch {
    return 1;
  }
}

/**
 * One candidate's operations on one election: the three actors of the leader
 * machine. Times are this process's clock: `sentMs` is read just before the write
 * is sent, so the server's stamp (and so the expiry) can only be later.
 */
export class ElectionLease {
  private acquireTime = '';

  constructor(
    private readonly bucket: ElectionsBucket,
    readonly election: string,
    readonly identity: string,
    /** Random per instance (see {@link LeaseRecord.instance}). */
    readonly instance: string,
  ) {}

  private record(term: number, nowMs: number): LeaseRecord {
    return {
      holderIdentity: this.identity,
      instance: this.instance,
      term,
      acquireTime: this.acquireTime,
      renewTime: new Date(nowMs).toISOString(),
      leaseDurationMs: this.bucket.leaseMs,
    };
  }

  async acquire(): Promise<AcquireOutput> {
    const sentMs = Date.now();
    this.acquireTime = new Date(sentMs).toISOString();
    let current: Election | undefined;
    try {
      const revision = await this.bucket.kv.create(this.election, encode(this.record(0, sentMs)));
      if (this.bucket.replicas === 1) return { acquired: true, term: revision, revision, sentMs, ackMs: Date.now() };
      await new Promise((r) => setTimeout(r, CONFIRM_AFTER_MS));
      current = await this.bucket.get(this.election);
      if (current?.instance === this.instance && current.revision === revision) {
        return { acquired: true, term: revision, revision, sentMs, ackMs: Date.now() };
      }
      // Overwritten by a create that raced ours (or already deleted): not ours.
      return { acquired: false, holder: current && holderOf(current), nowMs: Date.now() };
    } catch (e) {
      if (!isCasFailure(e)) throw e;
    }
    current = await this.bucket.get(this.election);
    if (current && current.instance === this.instance) {
      // An earlier create of ours landed but its answer was lost: write again, for a deadline we know.
      this.acquireTime = current.acquireTime;
      const renewed = await this.renew({ identity: this.identity, term: current.term, revision: current.revision });
      return { acquired: true, term: current.term, ...renewed };
    }
    return { acquired: false, holder: current && holderOf(current), nowMs: Date.now() };
  }

  /** A CAS at `ref.revision`; rejects with a {@link LeaseLostError} when the key is not ours any more. */
  async renew(ref: LeaseRef): Promise<RenewOutput> {
    let sentMs = Date.now();
    try {
      const revision = await this.bucket.kv.update(this.election, encode(this.record(ref.term, sentMs)), ref.revision);
      return { revision, sentMs, ackMs: Date.now() };
    } catch (e) {
      if (!isCasFailure(e)) throw e;
    }
    // The key changed since our last acknowledged write. Still ours (a renewal that
    // timed out but landed)? Then write once more at its revision.
    const current = await this.bucket.get(this.election);
    if (!current || current.instance !== this.instance || current.term !== ref.term) throw this.lost(current);
    sentMs = Date.now();
    try {
      const revision = await this.bucket.kv.update(this.election, encode(this.record(ref.term, sentMs)), current.revision);
      return { revision, sentMs, ackMs: Date.now() };
    } catch (e) {
      throw isCasFailure(e) ? this.lost(undefined) : e;
    }
  }

  /** Deletes the key if it is still ours (at `ref.revision`, or at a later revision of the same term). */
  async release(ref: LeaseRef): Promise<void> {
    try {
      await this.bucket.kv.delete(this.election, { previousSeq: ref.revision });
      return;
    } catch (e) {
      if (!isCasFailure(e)) throw e;
    }
    const current = await this.bucket.get(this.election);
    if (current && current.instance === this.instance && current.term === ref.term) {
      await this.bucket.kv.delete(this.election, { previousSeq: current.revision });
    }
  }

  private lost(current: Election | undefined): LeaseLostError {
    const who = current ? `${current.holderIdentity} holds it (term ${current.term})` : 'it expired or was deleted';
    return new LeaseLostError(`lost the ${this.election} lease: ${who}`);
  }
}
