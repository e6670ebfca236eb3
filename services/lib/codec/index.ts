/**
 * The JSON <-> protobuf codec: Kubernetes-shaped JSON objects (what kubectl sends)
 * to the protobuf messages of protos/*.proto (what the store and the NATS API
 * carry), and back.
 *
 *   encodeObject('keelson.core.v1.Pod', pod)   → Uint8Array
 *   decodeObject('keelson.core.v1.Pod', bytes) → the same JSON object
 *   unknownFields('keelson.core.v1.Pod', json) → ['spec.containers[0].imagee']
 *   encodeMessage('keelson.api.v1.ApiRequest', { verb: 'get', ... }) / decodeMessage(...)
 *
 * JSON → protobuf → JSON gives back exactly what came in (fields, explicit 0 /
 * false / "" / [] / {}, IntOrString as number or string), with the few lossy cases
 * listed in plan.ts: null = absent, quantity numbers become strings, int64 beyond
 * 2^53, key order, undefined fields dropped, -0. Per-type converters are compiled once
 * and cached. Values of the wrong JSON type throw CodecError (with the JSON path),
 * which the API server reports as 400 BadRequest.
 */
import protobuf from 'protobufjs/light.js';

import type { KObject } from '../api/resources.js';
import type { ApiMessageName, ApiMessages } from './api-types.js';
import { CodecError, type MessagePlan, decodeFields, encodeFields, planFor } from './plan.js';
import { findMessageType } from './schema.js';

export type * from './api-types.js';
export { CodecError } from './plan.js';
export { EMPTY_FIELDS_ID, INT_OR_STRING_TYPE, QUANTITY_FIELDS, RAW_JSON_TYPE } from './schema.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

// One writer, reused: encoding is synchronous, so calls never interleave.
let writer: protobuf.Writer | undefined;
const MAX_KEPT_WRITER_BYTES = 1 << 20;

function encodeWith(plan: MessagePlan, obj: unknown): Uint8Array {
  if (!isObject(obj)) throw new CodecError(`expected an object for ${plan.name}, got ${obj === null ? 'null' : Array.isArray(obj) ? 'array' : typeof obj}`);
  let w = writer;
  writer = undefined; // a re-entrant call (impossible today) would get its own
  if (!w) w = protobuf.Writer.create();
  w.reset();
  try {
    encodeFields(w, plan, obj);
    // A copy in its own ArrayBuffer (not a view of the writer or of Node's pool).
    return new Uint8Array(w.finish(true));
  } finally {
    const internal = w as unknown as { pos: number; states: number[] | null; buf: Uint8Array };
    internal.pos = 0;
    internal.states = null;
    if (internal.buf.length <= MAX_KEPT_WRITER_BYTES) writer = w;
  }
}

function decodeWith(plan: MessagePlan, bytes: Uint8Array): Record<string, unknown> {
  if (!(bytes instanceof Uint8Array)) throw new CodecError(`expected bytes (Uint8Array) for ${plan.name}`);
  // protobufjs' plain Uint8Array reader: its JS UTF-8 decoding of short strings
  // beats the Buffer reader's native call per string (Buffers are viewed, not copied).
  const r = new protobuf.Reader(Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes);
  try {
    return decodeFields(r, plan, r.len);
  } catch (err) {
    const detail = err instanceof CodecError ? err.message : err instanceof Error ? err.message : String(err);
    const e = new CodecError(`cannot decode ${plan.name}: ${detail}`);
    if (err instanceof CodecError) e.path = err.path;
    throw e;
  }
}

/** Encodes a Kubernetes JSON object as the protobuf message `protoType` (a resource's `protoType`). */
export function encodeObject(protoType: string, obj: KObject): Uint8Array {
  return encodeWith(planFor(protoType), obj);
}

/** Decodes the protobuf message `protoType` into its Kubernetes JSON shape. */
export function decodeObject(protoType: string, bytes: Uint8Array): KObject {
  return decodeWith(planFor(protoType), bytes) as KObject;
}

/** Encodes a plain object (e.g. an ApiRequest) as the protobuf message `typeName`. */
export function encodeMessage<N extends ApiMessageName>(typeName: N, obj: ApiMessages[N]): Uint8Array;
export function encodeMessage(typeName: string, obj: Record<string, unknown>): Uint8Array;
export function encodeMessage(typeName: string, obj: object): Uint8Array {
  return encodeWith(planFor(typeName), obj);
}

/** Decodes the protobuf message `typeName` into a plain object (absent fields stay absent). */
export function decodeMessage<N extends ApiMessageName>(typeName: N, bytes: Uint8Array): ApiMessages[N];
export function decodeMessage(typeName: string, bytes: Uint8Array): Record<string, unknown>;
export function decodeMessage(typeName: string, bytes: Uint8Array): Record<string, unknown> {
  return decodeWith(planFor(typeName), bytes);
}

function collectUnknown(plan: MessagePlan, obj: Record<string, unknown>, path: string, out: string[]): void {
  for (const key of Object.keys(obj)) {
    const here = path === '' ? key : `${path}.${key}`;
    const f = plan.byName.get(key);
    if (f === undefined) {
      out.push(here);
      continue;
    }
    const nested = f.message;
    const v = obj[key];
    if (nested === undefined || v === null || v === undefined) continue; // scalars, IntOrString, RawJSON
    if (f.map) {
      if (isObject(v)) for (const [k, mv] of Object.entries(v)) if (isObject(mv)) collectUnknown(nested, mv, `${here}[${k}]`, out);
    } else if (f.repeated) {
      if (Array.isArray(v)) v.forEach((e, i) => isObject(e) && collectUnknown(nested, e, `${here}[${i}]`, out));
    } else if (isObject(v)) {
      collectUnknown(nested, v, here, out);
    }
  }
}

/**
 * The JSON paths of the fields of `obj` that message `protoType` does not define
 * (`spec.containers[0].imagee`; map entries as `[key]`), in document order: what kubectl's
 * fieldValidation=Strict rejects and =Warn warns about. [] when all are known.
 * Values of the wrong type are not reported here (encoding rejects them).
 */
export function unknownFields(protoType: string, obj: unknown): string[] {
  const out: string[] = [];
  if (isObject(obj)) collectUnknown(planFor(protoType), obj, '', out);
  return out;
}

/** Whether `typeName` (e.g. `keelson.core.v1.Pod`) is a message of the schema. */
export function hasMessageType(typeName: string): boolean {
  return findMessageType(typeName) !== undefined;
}

/** The protobufjs reflection type of `typeName` (for tools and tests); throws if unknown. */
export function messageType(typeName: string): protobuf.Type {
  const t = findMessageType(typeName);
  if (!t) throw new Error(`codec: unknown protobuf message type ${JSON.stringify(typeName)}`);
  return t;
}
