/**
 * Fencing of leader-elected writers. A leader's writes carry a token
 * `ELECTION:TERM` (NATS: `ApiRequest.token`; HTTP: the `X-Keelson-Leader-Token`
 * header); both edges hand it to `Registry.fence` before any write, and this
 * decides: the term must be the election's current one. One that was superseded
 * gets 409 Conflict (reason StaleLeaderToken), a malformed token 400. Writes
 * without a token are not fenced.
 *
 * The current terms come from a watch on the elections bucket, started on the
 * first token seen. The bucket is read directly when the watch may be behind:
 * for a token newer than anything known (the new leader may write before the
 * watch brings its term), and for the current term once its last renewal seen
 * is a lease old (expiry is silent: the holder may be gone and a successor
 * elected). A healthy leader renews every fraction of a lease, so its writes
 * never wait for that read. What is left: a successor elected through a graceful
 * release, for the milliseconds before the watch shows it; the old leader stopped
 * its work before it released (statecharts/leader.safety.md).
 */
import type { KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { errors } from '../lib/errors/index.js';
import { followKv, type Follow } from '../lib/kv/index.js';
import { decodeElection, ElectionsBucket, parseToken, staleTokenError } from '../lib/leader-election/index.js';

/** What the registry asks before a write. */
export type WriteFence = {
  /** Resolves if `token` is absent or current; rejects with the ApiError to answer otherwise. */
  check(token: string | undefined): Promise<void>;
  stop(): Promise<void>;
};

/** An election as last seen: its term, the newest revision, whether someone holds it, and until when (server clock). */
type Known = { term: number; revision: number; held: boolean; expiresMs: number };

export class LeaderFencing implements WriteFence {
  private readonly known = new Map<string, Known>();
  private opening?: Promise<ElectionsBucket | undefined>;
  private follow?: Follow;
  private stopped = false;

  constructor(private readonly nc: NatsConnection) {}

  async check(token: string | undefined): Promise<void> {
    if (!token) return;
    const t = parseToken(token);
    let k = this.known.get(t.election);
    if (!k || t.term > k.revision || (k.held && Date.now() >= k.expiresMs)) k = await this.refresh(t.election);
    if (k?.held && k.term === t.term) return;
    throw staleTokenError(t, k?.held ? k.term : undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.follow?.stop();
  }

  /** The election as the bucket has it now. */
  private async refresh(election: string): Promise<Known | undefined> {
    const bucket = await this.bucket();
    if (!bucket) return this.known.get(election);
    let entry: KvEntry | null;
    try {
      entry = await bucket.kv.get(election);
    } catch (e) {
      throw errors.unavailable(`cannot check the leader token: the elections bucket is unavailable (${(e as Error).message})`, e);
    }
    if (entry) this.apply(entry);
    else {
      // Expired (silently): nobody holds it now.
      const k = this.known.get(election);
      if (k?.held && Date.now() >= k.expiresMs) this.known.set(election, { ...k, held: false });
    }
    return this.known.get(election);
  }

  /** Opens the bucket and starts following it, once; undefined while there is no bucket (no election ever ran). */
  private bucket(): Promise<ElectionsBucket | undefined> {
    this.opening ??= (async () => {
      let bucket: ElectionsBucket;
      try {
        bucket = await ElectionsBucket.open(this.nc, { bindOnly: true });
      } catch (e) {
        this.opening = undefined;
        if (/stream not found/i.test((e as Error).message)) return undefined;
        throw errors.unavailable(`cannot check the leader token: the elections bucket is unavailable (${(e as Error).message})`, e);
      }
      if (!this.stopped) this.follow = followKv(this.nc, bucket.kv, { key: '>' }, (e) => this.apply(e));
      return bucket;
    })();
    return this.opening;
  }

  private apply(e: KvEntry): void {
    const prev = this.known.get(e.key);
    if (prev && prev.revision >= e.revision) return;
    const rec = decodeElection(e);
    if (rec) this.known.set(e.key, { term: rec.term, revision: e.revision, held: true, expiresMs: rec.createdMs + rec.leaseDurationMs });
    else if (e.operation !== 'PUT') this.known.set(e.key, { term: prev?.term ?? 0, revision: e.revision, held: false, expiresMs: 0 });
  }
}
