/**
 * The pod-template-hash: a Deployment names each ReplicaSet after a hash of
 * its pod template (`web-5d59d67564`) and puts the hash in the ReplicaSet's
 * selector, template and pods as the `pod-template-hash` label, so the
 * ReplicaSets of one Deployment never select each other's pods. Kubernetes
 * hashes with FNV-1a 32 over a deep print of the template (plus the collision
 * count) and writes the number with the "safe" alphabet (no vowels); the deep
 * print here is canonical JSON (sorted keys, empty values left out), so the
 * hash does not depend on key order or on how a decoder spells "nothing".
 */
import type { PodTemplate } from './types.js';

export const POD_TEMPLATE_HASH = 'pod-template-hash';

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isPlainObject(v) && Object.keys(v).every((k) => isEmpty(v[k])));
}

/** JSON with sorted keys and without empty values: one text per meaning. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  if (isPlainObject(v)) {
    const keys = Object.keys(v)
      .filter((k) => !isEmpty(v[k]))
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

function fnv32a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Kubernetes' rand.SafeEncodeString: each character mapped into the no-vowel alphabet. */
export function safeEncode(s: string): string {
  let out = '';
  for (const ch of s) out += SAFE_ALPHABET[ch.codePointAt(0)! % SAFE_ALPHABET.length];
  return out;
}

/** The hash of a Deployment's pod template; a collision count (after a name clash) changes it. */
export function computeTemplateHash(template: PodTemplate | undefined, collisionCount?: number): string {
  let h = fnv32a(new TextEncoder().encode(canonicalJson(template ?? {})));
  if (collisionCount !== undefined && collisionCount !== null) {
    const extra = new Uint8Array(8);
    new DataView(extra.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(extra, h);
  }
  return safeEncode(String(h));
}

/** The template without the pod-template-hash label (what the Deployment's own template looks like). */
function withoutHash(t: PodTemplate | undefined): PodTemplate {
  const copy = structuredClone(t ?? {});
  if (copy.metadata?.labels) delete copy.metadata.labels[POD_TEMPLATE_HASH];
  return copy;
}

/** Kubernetes' EqualIgnoreHash: the same template apart from the pod-template-hash label. */
export function equalIgnoreHash(a: PodTemplate | undefined, b: PodTemplate | undefined): boolean {
  return canonicalJson(withoutHash(a)) === canonicalJson(withoutHash(b));
}

/** A copy of the labels with the hash added. */
export function withHashLabel(labels: Record<string, string> | undefined, hash: string): Record<string, string> {
  return { ...labels, [POD_TEMPLATE_HASH]: hash };
}
