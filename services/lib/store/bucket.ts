/**
 * The object store's reads and writes on its KV bucket, retried through a
 * stream-leader election (./retry.ts). Writes are published by hand on the
 * subjects and with the headers @nats-io/kv uses (`$KV.<bucket>.<key>`,
 * `KV-Operation`, `Nats-Expected-Last-Subject-Sequence`) plus two of ours:
 *
 * - `Nats-Msg-Id: <key>@<expected revision>`, the compare-and-swap's "slot".
 *   Only one write can ever succeed from a given revision of a key, and
 *   JetStream's de-duplication (2 min window) then enforces it on the stream
 *   leader, in-flight writes included. nats-server 2.9.10's own check of the
 *   expected revision does not (nats-server#4320: on R3, two of three racing
 *   updates acknowledged in ~80 % of rounds; with slot ids, none in 300).
 * - `Keelson-Write: <unique id>`, which tells our own write from another's:
 *   a retry after a lost acknowledgement is answered with the slot's first
 *   acknowledgement (a duplicate) or, on R3 where the revision is checked
 *   before the id, with 10071; in both cases the stored entry carrying this
 *   write's id says the write succeeded, and any other entry that it lost.
 */
import { JetStreamApiError, type JetStreamClient, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import { Empty, headers } from '@nats-io/nats-core';
import { errors } from '../errors/index.js';
import { isCasFailure } from '../kv/index.js';
import { nextWriteId } from './write-ids.js';
import { isRetryable, mayHaveBeenApplied, requestTimeout, retrying, WriteInFlight, WriteOutcomeUnknown, within, type Attempt, type RetryHooks, type RetryPolicy } from './retry.js';

const KV_OPERATION = 'KV-Operation';
const WRITE_ID = 'Keelson-Write';
/** Keys as @nats-io/kv accepts them. */
const VALID_KEY = /^[-/=.\w]+$/;

export type BucketOptions = {
  bucket: string;
  js: JetStreamClient;
  /** Its request timeout is the policy's attempt timeout. */
  jsm: JetStreamManager;
  policy: RetryPolicy;
  hooks?: RetryHooks;
};

/** A key's last entry: its revision, bytes and whether it is a deletion marker. */
export type Entry = { revision: number; value: Uint8Array; deleted: boolean };

/**
 * A stored write: its revision, and — when it was found stored by an earlier
 * attempt (a retry, or a replay of the same request, ./write-ids.ts) — the bytes
 * that attempt stored, which a replay may not have made identically.
 */
export type Written = { revision: number; stored?: Uint8Array };

export class Bucket {
  private readonly stream: string;
  constructor(private readonly o: BucketOptions) {
    this.stream = `KV_${o.bucket}`;
  }

  /**
   * The last entry of a key, or null when it never had one. The stream leader
   * answers, never a replica's direct get, which may not have a write just
   * acknowledged (a get after a create on a new R3 bucket found nothing). So
   * without a quorum there is no answer: reads that must be answered then are
   * served by the API server's watch cache.
   */
  async get(key: string): Promise<Entry | null> {
    const m = await this.retry((a) => this.last(key, a));
    return m && { revision: m.seq, value: m.data, deleted: isDeletion(m) };
  }

  /** Stores a key that is absent or deleted; rejects with 10071 when it holds a value. */
  create(key: string, value: Uint8Array): Promise<Written> {
    const id = nextWriteId();
    const outcome = { maybeStored: false };
    return this.retryWrite(outcome, async (a) => {
      try {
        return await this.compareAndSwap(key, value, 0, id, a);
      } catch (e) {
        outcome.maybeStored ||= mayHaveBeenApplied(e);
        if (!isCasFailure(e)) throw e;
        // As kv.create: a key whose last entry is a deletion marker is free.
        const last = await this.last(key, a);
        if (last && writeId(last) === id) return { revision: last.seq, stored: last.data };
        if (!last || !isDeletion(last)) throw e;
        return await this.compareAndSwap(key, value, last.seq, id, a);
      }
    });
  }

  /** Compare-and-swap: stores only while the key's last revision is `revision`. */
  update(key: string, value: Uint8Array, revision: number): Promise<Written> {
    return this.write(key, value, revision);
  }

  /** Writes a deletion marker, only while the key's last revision is `revision` when given. */
  async delete(key: string, revision?: number): Promise<number> {
    return (await this.write(key, Empty, revision, 'DEL')).revision;
  }

  private write(key: string, value: Uint8Array, revision: number | undefined, op?: 'DEL'): Promise<Written> {
    const id = nextWriteId();
    const outcome = { maybeStored: false };
    return this.retryWrite(outcome, async (a) => {
      try {
        if (revision === undefined) return { revision: (await this.publish(key, value, id, id, undefined, a, op)).seq };
        return await this.compareAndSwap(key, value, revision, id, a, op);
      } catch (e) {
        if (isCasFailure(e) && outcome.maybeStored) {
          const last = await this.last(key, a);
          if (last && writeId(last) === id) return { revision: last.seq, stored: last.data };
        }
        outcome.maybeStored ||= mayHaveBeenApplied(e);
        throw e;
      }
    });
  }

  /** One attempt of a write from `revision` (0: the key has no entry); a lost race is 10071. */
  private async compareAndSwap(key: string, value: Uint8Array, revision: number, id: string, a: Attempt, op?: 'DEL'): Promise<Written> {
    const ack = await this.publish(key, value, `${key}@${revision}`, id, revision, a, op);
    if (!ack.duplicate) return { revision: ack.seq };
    // The slot was taken, by an earlier attempt of this write or by another write.
    if (ack.seq === 0) throw new WriteInFlight(`a write to ${key} from revision ${revision} is still being stored`);
    const slot = await within(this.o.jsm.streams.getMessage(this.stream, { seq: ack.seq }), requestTimeout(this.o.policy, a));
    if (slot && writeId(slot) === id) return { revision: ack.seq, stored: slot.data };
    throw new JetStreamApiError({ err_code: 10071, code: 400, description: `wrong last sequence: ${ack.seq} (another write from revision ${revision})` });
  }

  private async publish(key: string, value: Uint8Array, msgId: string, id: string, revision: number | undefined, a: Attempt, op?: 'DEL') {
    const h = headers();
    h.set(WRITE_ID, id);
    if (op) h.set(KV_OPERATION, op);
    return this.o.js.publish(this.subject(key), value, {
      msgID: msgId,
      headers: h,
      timeout: requestTimeout(this.o.policy, a),
      ...(revision !== undefined ? { expect: { lastSubjectSequence: revision } } : {}),
    });
  }

  /** A key's last message, from the stream leader. */
  private last(key: string, a: Attempt): Promise<StoredMsg | null> {
    return within(this.o.jsm.streams.getMessage(this.stream, { last_by_subj: this.subject(key) }), requestTimeout(this.o.policy, a));
  }

  private subject(key: string): string {
    if (key.startsWith('.') || key.endsWith('.') || !VALID_KEY.test(key)) {
      throw errors.badRequest(`"${key}" cannot be a store key: names may hold only letters, digits and - _ / = .`);
    }
    return `$KV.${this.o.bucket}.${key}`;
  }

  private retry<T>(fn: (a: Attempt) => Promise<T>): Promise<T> {
    return retrying(this.o.policy, fn, this.o.hooks);
  }

  /** As `retry`, but a write given up while one of its attempts may have been stored fails as WriteOutcomeUnknown. */
  private async retryWrite<T>(outcome: { maybeStored: boolean }, fn: (a: Attempt) => Promise<T>): Promise<T> {
    try {
      return await this.retry(fn);
    } catch (e) {
      if (outcome.maybeStored && isRetryable(e)) {
        throw new WriteOutcomeUnknown(`no answer from the store within ${this.o.policy.deadlineMs} ms; the write may still be applied`, { cause: e });
      }
      throw e;
    }
  }
}

function writeId(m: StoredMsg): string | undefined {
  return m.header?.get(WRITE_ID) || undefined;
}

function isDeletion(m: StoredMsg): boolean {
  const op = m.header?.get(KV_OPERATION);
  return op === 'DEL' || op === 'PURGE';
}
