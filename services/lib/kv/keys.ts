/**
 * The keys of a KV bucket from one snapshot: the subjects its stream holds a
 * message for (a value or a deletion marker). `kv.keys()` reads them through a
 * consumer instead, which the bucket's own writes overtake: in a bucket whose
 * keys are rewritten every few seconds (leases, the API servers' records) it
 * has returned a key twice or left one out.
 */
import type { JetStreamManager } from '@nats-io/jetstream';

export async function bucketKeys(jsm: JetStreamManager, bucket: string): Promise<string[]> {
  const prefix = `$KV.${bucket}.`;
  const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
  return Object.keys(info.state.subjects ?? {})
    .map((s) => s.slice(prefix.length))
    .sort();
}
