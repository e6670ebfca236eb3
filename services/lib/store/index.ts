/**
 * The object store: one JetStream KV bucket holds every object, protobuf-encoded,
 * under `{plural}.{namespace|_}.{name}`. One bucket means one stream and so one
 * global, ordered revision — the KV revision is the object's resourceVersion, as
 * the etcd revision is in Kubernetes. Only the API server writes here.
 */
import {
  DeliverPolicy,
  jetstream,
  type ConsumerMessages,
  type JetStreamClient,
  type JsMsg,
  type PushConsumer,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { RESOURCES, type KObject, type ResourceInfo } from '../api/resources.js';
import { CodecError, decodeObject, encodeObject } from '../codec/index.js';
import { ApiError, errors } from '../errors/index.js';
import { isCasFailure } from '../kv/index.js';
import { Bucket, type Written } from './bucket.js';
import { DEFAULT_RETRY_POLICY, WriteOutcomeUnknown, type RetryPolicy } from './retry.js';
import { WatchAlarm, type StreamView } from './alarm.js';
import { watchConsumer } from './watchdog.js';

export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
export { REQUEST_ID_HEADER, withRequestId } from './write-ids.js';

export const DEFAULT_BUCKET = 'keelson';

export type StoreOptions = {
  bucket?: string;
  /** Stream replicas: 1 on one machine, 3 for HA masters. */
  replicas?: number;
  /** Only bind to an existing bucket (read-only components). */
  bindOnly?: boolean;
  /**
   * How get/create/update/delete ride out a stream-leader election: retried
   * for up to `deadlineMs` (default 10 s), then 503 ServiceUnavailable.
   */
  retry?: Partial<RetryPolicy>;
  /** Called with each error that is about to be retried (logs, tests). */
  onRetry?: (e: unknown, attempt: number) => void;
};

/** Where an object lives: resource, namespace ('' for cluster-scoped), name. */
export type ObjectKey = { resource: ResourceInfo; namespace: string; name: string };

/** A change seen on the store, in revision order. */
export type StoreEvent = {
  key: ObjectKey;
  revision: number;
  /** undefined for a deletion. */
  object?: KObject;
};

const CLUSTER_SCOPE = '_';

const byPlural = new Map(RESOURCES.map((r) => [r.plural, r]));

export function storeKey(resource: ResourceInfo, namespace: string, name: string): string {
  return `${resource.plural}.${resource.namespaced ? keyPart(namespace, 'namespace') : CLUSTER_SCOPE}.${keyPart(name, 'name')}`;
}

/**
 * A key part no longer than any name (253 characters) or namespace (63) that
 * can be stored, each character at most 4 UTF-8 bytes written `=XX`: a longer
 * one names nothing, and in a NATS subject it could pass nats-server's 4 KiB
 * control line limit, which closes the connection that sent it (the API
 * server's).
 */
const MAX_LENGTH = { name: 253, namespace: 63 };

function keyPart(value: string, what: 'name' | 'namespace'): string {
  const part = keyName(value);
  if (part.length > MAX_LENGTH[what] * 12) throw errors.badRequest(`the ${what} is too long: ${value.length} characters (at most ${MAX_LENGTH[what]})`);
  return part;
}

/**
 * A name (or namespace) as a KV key part. KV keys allow only `-/_=.` and
 * letters and digits, and a `.` separates parts; most names are DNS subdomains
 * and stay as they are (as does any name of dot-separated runs of letters,
 * digits, `-` and `_`), but RBAC names may hold anything but `/` and `%`
 * (`system:node`, `a..b`) and a request may name anything: then every byte but
 * `-`, letters and digits is written `=XX` (hex of its UTF-8), `=`, `.` and `_`
 * included, and an empty name is `=`. Plain parts never hold `=` and encoded
 * ones always do, so the mapping is one to one, `_` alone (the cluster scope's
 * part) is always encoded, and the keys of every name stored before stay the same.
 */
export function keyName(name: string): string {
  // Dot-separated runs of key characters (every DNS name, and all the store ever held before) are a key part as they are.
  if (name !== '_' && /^[-_a-zA-Z0-9]+(\.[-_a-zA-Z0-9]+)*$/.test(name)) return name;
  if (name === '') return '='; // a part may not be empty
  let out = '';
  for (const ch of name) {
    if (/[-a-zA-Z0-9]/.test(ch)) out += ch;
    else for (const b of Buffer.from(ch)) out += `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The name a key's last part stands for (keyName reversed); a part that is no keyName output is taken as it is. */
export function nameOfKey(part: string): string {
  if (part === '=') return '';
  if (!part.includes('=')) return part;
  try {
    return decodeURIComponent(part.replace(/=([0-9A-F]{2})/g, '%$1'));
  } catch {
    return part;
  }
}

/** Subject filter for all objects of a resource, optionally in one namespace. */
export function storeFilter(resource?: ResourceInfo, namespace?: string): string {
  if (!resource) return '>';
  if (resource.namespaced && namespace) return `${resource.plural}.${keyPart(namespace, 'namespace')}.>`;
  return `${resource.plural}.>`;
}

export function parseStoreKey(key: string): ObjectKey | undefined {
  const first = key.indexOf('.');
  const second = key.indexOf('.', first + 1);
  if (first < 0 || second < 0) return undefined;
  const resource = byPlural.get(key.slice(0, first));
  if (!resource) return undefined;
  const ns = key.slice(first + 1, second);
  return { resource, namespace: ns === CLUSTER_SCOPE ? '' : nameOfKey(ns), name: nameOfKey(key.slice(second + 1)) };
}

/** Maps a JetStream failure to the API error a client should see. */
export function storeError(e: unknown, key: ObjectKey, op: 'create' | 'update' | 'delete'): ApiError {
  if (e instanceof ApiError) return e;
  if (isCasFailure(e)) {
    const { resource, name } = key;
    return op === 'create'
      ? errors.alreadyExists(resource.plural, name, resource.group)
      : errors.conflict(
          resource.plural,
          name,
          'the object has been modified; please apply your changes to the latest version and try again',
          resource.group,
        );
  }
  const message = e instanceof Error ? e.message : String(e);
  // A write whose last attempts went unanswered may still be committed once the store has a quorum again.
  if (e instanceof WriteOutcomeUnknown) return errors.timeout(`the object store did not confirm the write: ${message}; read the object before writing again`, e);
  // "jetstream is not enabled", no responders, retried until the deadline
  // passed: the store is unreachable or has no stream leader; nothing was written.
  return errors.unavailable(`the object store is unavailable: ${message}`, e);
}

export class Store {
  private constructor(
    readonly kv: KV,
    readonly bucket: string,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly keys: Bucket,
    private readonly stream: StreamProbe,
  ) {}

  private alarm?: WatchAlarm;

  static async open(nc: NatsConnection, opts: StoreOptions = {}): Promise<Store> {
    const bucket = opts.bucket ?? DEFAULT_BUCKET;
    const policy = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    const js = jetstream(nc, { timeout: 10_000 });
    const kvm = new Kvm(js);
    const kv = opts.bindOnly
      ? await kvm.open(bucket)
      : await kvm.create(bucket, { history: 1, replicas: opts.replicas ?? 1, storage: 'file' } as never);
    // Requests that may hit a dead server wait one attempt, not 10 s.
    const jsm = await jetstream(nc, { timeout: policy.attemptTimeoutMs }).jetstreamManager(false);
    const keys = new Bucket({ bucket, js, jsm, policy, hooks: { onRetry: opts.onRetry } });
    const info = () => jsm.streams.info(`KV_${bucket}`);
    const stream: StreamProbe = {
      head: async () => {
        const i = await info();
        // A stream of one server (no cluster block) always has its leader.
        return { revision: Number(i.state.last_seq), led: !i.cluster || Boolean(i.cluster.leader) };
      },
      view: async () => {
        const c = (await info()).cluster;
        return { leader: c?.leader, replicas: (c?.replicas ?? []).map((r) => ({ name: r.name, offline: r.offline })) };
      },
      // Not a direct get: the stream leader answers, never a replica that lags.
      firstAfter: async (subject, seq) => (await jsm.streams.getMessage(`KV_${bucket}`, { seq: seq + 1, next_by_subj: subject } as never))?.seq,
    };
    return new Store(kv, bucket, nc, js, keys, stream);
  }

  get connection(): NatsConnection {
    return this.nc;
  }

  /**
   * The newest revision of the whole store (the stream's last sequence). Asks
   * the stream leader once, without retrying: during an election it fails after
   * one attempt timeout, and the watch cache then answers from what it holds.
   */
  async revision(): Promise<number> {
    return (await this.stream.head()).revision;
  }

  /**
   * The store's revision and whether its stream has a leader now (a quorum:
   * writes can be acknowledged), in one question. Without a leader the server
   * still answers from its own replica.
   */
  async head(): Promise<{ revision: number; led: boolean }> {
    return this.stream.head();
  }

  /** The object under a key, read from the stream leader (./bucket.ts `get`). */
  async get(resource: ResourceInfo, namespace: string, name: string): Promise<KObject | undefined> {
    const key = { resource, namespace, name };
    let entry;
    try {
      entry = await this.keys.get(storeKey(resource, namespace, name));
    } catch (e) {
      throw storeError(e, key, 'update');
    }
    if (!entry || entry.deleted) return undefined;
    return decodeEntry(resource, entry.value, entry.revision);
  }

  /** Writes a new object; AlreadyExists when the key holds a live object. */
  async create(resource: ResourceInfo, obj: KObject): Promise<KObject> {
    const key = objectKey(resource, obj);
    try {
      return written(resource, obj, await this.keys.create(storeKey(resource, key.namespace, key.name), encode(resource, obj)));
    } catch (e) {
      throw storeError(e, key, 'create');
    }
  }

  /** Compare-and-swap: writes only if the stored revision is still `revision`. */
  async update(resource: ResourceInfo, obj: KObject, revision: number): Promise<KObject> {
    const key = objectKey(resource, obj);
    try {
      return written(resource, obj, await this.keys.update(storeKey(resource, key.namespace, key.name), encode(resource, obj), revision));
    } catch (e) {
      throw storeError(e, key, 'update');
    }
  }

  /** Deletes, only if the stored revision is still `revision` when given. */
  async delete(resource: ResourceInfo, namespace: string, name: string, revision?: number): Promise<void> {
    try {
      await this.keys.delete(storeKey(resource, namespace, name), revision || undefined);
    } catch (e) {
      throw storeError(e, { resource, namespace, name }, 'delete');
    }
  }

  /**
   * A consistent snapshot of a resource (optionally one namespace): the last value
   * of every key as of one revision, which is returned with the items.
   */
  async list(resource: ResourceInfo, namespace?: string): Promise<{ items: KObject[]; revision: number }> {
    const items = new Map<string, KObject>();
    let revision = 0;
    const stop = await this.watch(
      { resource, namespace },
      (ev) => {
        if (ev.object) items.set(ev.key.name + '/' + ev.key.namespace, ev.object);
        else items.delete(ev.key.name + '/' + ev.key.namespace);
        revision = Math.max(revision, ev.revision);
      },
      { until: 'synced' },
    );
    // A watch that ends before it caught up (its consumer lost, the connection
    // closed) never syncs: that list fails instead of waiting for ever.
    const outcome = await Promise.race([stop.synced.then(() => 'synced' as const), stop.done.then(() => 'ended' as const)]);
    await stop.stop();
    if (outcome === 'ended') throw errors.unavailable(`the store watch on ${storeFilter(resource, namespace)} ended before it caught up; try again`);
    // An empty or untouched range is consistent at the store's current revision.
    if (revision === 0) revision = await this.revision();
    return { items: [...items.values()], revision };
  }

  /**
   * Streams changes under a filter: first the current value of every key (or,
   * with `fromRevision`, every change after that revision), then every change, in
   * revision order. `synced` resolves once the starting state has been delivered.
   * An ordered consumer of our own (not `kv.watch`) so that the pending count is
   * known up front: an empty range is synced at once instead of never.
   */
  async watch(
    filter: { resource?: ResourceInfo; namespace?: string },
    onEvent: (ev: StoreEvent) => void,
    opts: { fromRevision?: number; until?: 'synced' } = {},
  ): Promise<StoreWatch> {
    const prefix = `$KV.${this.bucket}.`;
    const subject = prefix + storeFilter(filter.resource, filter.namespace);
    const resume = opts.fromRevision !== undefined;
    let consumer: PushConsumer;
    try {
      consumer = await this.js.consumers.getPushConsumer(`KV_${this.bucket}`, {
        filter_subjects: subject,
        deliver_policy: resume ? DeliverPolicy.StartSequence : DeliverPolicy.LastPerSubject,
        ...(resume ? { opt_start_seq: opts.fromRevision! + 1 } : {}),
      });
    } catch (e) {
      throw storeError(e, { resource: filter.resource ?? RESOURCES[0]!, namespace: '', name: '' }, 'update');
    }
    const info = await consumer.info(true);
    let pending = info.num_pending;
    let markSynced!: () => void;
    const synced = new Promise<void>((r) => (markSynced = r));
    let isSynced = false;
    let messages: ConsumerMessages | undefined;
    const setSynced = () => {
      if (isSynced) return;
      isSynced = true;
      markSynced();
      if (opts.until === 'synced') void messages?.close();
    };
    if (pending === 0) setSynced();
    if (isSynced && opts.until === 'synced') {
      await consumer.delete().catch(() => undefined);
      return { synced, done: Promise.resolve(), stop: async () => undefined };
    }
    // The newest revision delivered (or skipped by starting after it).
    let lastSeq = opts.fromRevision ?? 0;
    // Set when the watchdog gives the consumer up: from then on nothing of it is
    // delivered (its owner resumes from the last revision it saw), and the watch
    // is over even if closing the consumer's subscription never settles.
    let abandoned = false;
    let abandon!: () => void;
    const given = new Promise<void>((r) => (abandon = r));
    messages = await consumer.consume({
      callback: (m: JsMsg) => {
        if (abandoned) return;
        lastSeq = Math.max(lastSeq, m.seq);
        const key = parseStoreKey(m.subject.slice(prefix.length));
        // An entry that does not decode (or a handler that throws) must not stop the
        // consumer: the watch would resume at the same entry and fail on it for ever.
        if (key) {
          try {
            const op = m.headers?.get('KV-Operation');
            onEvent({
              key,
              revision: m.seq,
              object: op === 'DEL' || op === 'PURGE' ? undefined : decodeEntry(key.resource, m.data, m.seq),
            });
          } catch (e) {
            console.error(`store watch: skipped ${m.subject} at revision ${m.seq}: ${(e as Error).message}`);
          }
        }
        if (!isSynced && --pending <= 0) setSynced();
      },
    });
    const missed = () => this.stream.firstAfter(subject, lastSeq);
    const alarm = this.watchAlarm();
    const release = alarm.use();
    // A consumer we leave is deleted, not left to the server's 5-minute inactivity limit.
    const discard = () => void consumer.delete().catch(() => undefined);
    const watchdog = watchConsumer({ info: () => consumer.info(), lastSeq: () => lastSeq, firstMissed: missed, alert: () => alarm.raised }, () => {
      abandoned = true;
      abandon();
      void messages?.close().catch(() => undefined);
      discard();
    });
    const done = Promise.race([messages.closed().then(() => undefined), given]).then(() => {
      clearInterval(watchdog);
      release();
    });
    return {
      synced,
      done,
      stop: async () => {
        clearInterval(watchdog);
        release();
        await messages!.close().catch(() => undefined);
        discard();
      },
    };
  }

  /** One alarm for all of this store's watches (alarm.ts). */
  private watchAlarm(): WatchAlarm {
    this.alarm ??= new WatchAlarm(this.nc, `KV_${this.bucket}`, () => this.stream.view());
    return this.alarm;
  }
}

/** What the store asks its stream's leader, never a replica. */
type StreamProbe = {
  /** The stream's last sequence (the store's revision), and whether the stream has a leader. */
  head(): Promise<{ revision: number; led: boolean }>;
  /** The sequence of the first message under `subject` (wildcards allowed) after `seq`, if any. */
  firstAfter(subject: string, seq: number): Promise<number | undefined>;
  /** Who leads the stream and which replicas are live. */
  view(): Promise<StreamView>;
};

export type StoreWatch = {
  synced: Promise<void>;
  /** Settles when the watch ends (stopped, or its connection closed). */
  done: Promise<void>;
  stop(): Promise<void>;
};

function objectKey(resource: ResourceInfo, obj: KObject): ObjectKey {
  const name = obj.metadata?.name;
  if (!name) throw errors.badRequest('metadata.name is required');
  return { resource, namespace: resource.namespaced ? (obj.metadata?.namespace ?? '') : '', name };
}

/** The revision lives in the KV entry, never in the stored bytes. */
function encode(resource: ResourceInfo, obj: KObject): Uint8Array {
  const { resourceVersion: _drop, ...metadata } = obj.metadata ?? {};
  try {
    return encodeObject(resource.protoType, { ...obj, metadata });
  } catch (e) {
    throw e instanceof CodecError ? invalidValue(resource, metadata.name, e) : e;
  }
}

/** A value of the wrong JSON type (e.g. `replicas: "3"`) is the client's mistake: 422. */
export function invalidValue(resource: ResourceInfo, name: unknown, e: CodecError): ApiError {
  const n = typeof name === 'string' ? name : '';
  return errors.invalid(resource.kind, n, [{ reason: 'FieldValueInvalid', field: e.path, message: e.detail }], resource.group);
}

function decodeEntry(resource: ResourceInfo, bytes: Uint8Array, revision: number): KObject {
  return withRevision(decodeObject(resource.protoType, bytes), revision);
}

/** The object as stored: ours, or what an earlier attempt of the same write stored (a replayed request). */
function written(resource: ResourceInfo, obj: KObject, w: Written): KObject {
  return w.stored ? decodeEntry(resource, w.stored, w.revision) : withRevision(obj, w.revision);
}

function withRevision(obj: KObject, revision: number): KObject {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(revision) } };
}

