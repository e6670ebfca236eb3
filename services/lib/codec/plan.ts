/**
 * The JSON <-> protobuf converters, one compiled "plan" per message type.
 *
 * The codec writes and reads the protobuf wire format itself (with protobufjs'
 * Writer/Reader and its reflection types for the schema) instead of going through
 * protobufjs message objects. That gives, in one pass each way:
 *  - the Kubernetes JSON shape directly (IntOrString as number|string, int64 as
 *    number, maps as plain objects, no default values invented);
 *  - exact presence: every field present in the JSON is written, even `0`,
 *    `false` and `""`, and only fields read from the wire come back;
 *  - `[]` / `{}` kept through the reserved EMPTY_FIELDS_ID field (schema.ts);
 *  - type checks with the JSON path of the offending value (CodecError).
 *
 * Lossy cases (everything else round-trips exactly):
 *  1. `null` as a field value means "absent" (Kubernetes treats it the same way):
 *     `{ a: null }` comes back as `{}`. A `null` element of a list or value of a
 *     map is stored as the zero value of its type ("", 0, false, {}), as Go's JSON
 *     decoding does.
 *  2. A JSON number in a quantity field (QUANTITY_FIELDS) comes back as the string
 *     `String(n)` (`cpu: 1` → `cpu: "1"`), as Kubernetes does.
 *  3. 64-bit integers are JS numbers: values beyond ±2^53 lose precision.
 *  4. Map keys come back sorted (the encoding is deterministic: same object, same
 *     bytes), and object keys in field declaration order. Key order is not data.
 *  5. Fields the schema does not define are dropped on encode (report them first
 *     with unknownFields()).
 *  6. `-0` in an integer field comes back as `0`.
 */
import protobuf from 'protobufjs/light.js';

import { EMPTY_FIELDS_ID, INT_OR_STRING_TYPE, QUANTITY_FIELDS, RAW_JSON_TYPE, findMessageType, typeName } from './schema.js';

/** A value that does not fit the schema (encode) or bytes that are not a valid message (decode). */
export class CodecError extends TypeError {
  override name = 'CodecError';
  /** JSON path of the offending value, e.g. `spec.containers[0].ports[1].containerPort`. */
  path = '';
  constructor(readonly detail: string) {
    super(detail);
  }

  /** Adds an outer path segment while the error unwinds. @internal */
  within(segment: string): this {
    this.path = this.path === '' || this.path.startsWith('[') ? segment + this.path : `${segment}.${this.path}`;
    this.message = `${this.path}: ${this.detail}`;
    return this;
  }
}

// Scalar type codes (numbers: cheaper to switch on than strings).
const T = {
  double: 1,
  float: 2,
  int32: 3,
  uint32: 4,
  sint32: 5,
  fixed32: 6,
  sfixed32: 7,
  int64: 8,
  uint64: 9,
  sint64: 10,
  fixed64: 11,
  sfixed64: 12,
  bool: 13,
  string: 14,
  bytes: 15,
} as const;
type ScalarCode = (typeof T)[keyof typeof T];

const WIRE: Record<ScalarCode, number> = {
  1: 1, 2: 5, 3: 0, 4: 0, 5: 0, 6: 5, 7: 5, 8: 0, 9: 0, 10: 0, 11: 1, 12: 1, 13: 0, 14: 2, 15: 2,
};

const enum Kind {
  Scalar,
  Enum,
  Message,
  IntOrString,
  RawJSON,
}

export type FieldPlan = {
  name: string;
  id: number;
  /** Position in declaration order. */
  index: number;
  kind: Kind;
  repeated: boolean;
  map: boolean;
  /** Scalar code of the value (Kind.Scalar) or of a map's value. */
  scalar: ScalarCode;
  /** Wire type of one value (of a map: of one map value). */
  wireType: number;
  /** Key of one element on the wire: (id << 3) | wireType (| 2 for a map entry). */
  tag: number;
  /** Encode repeated scalars packed. */
  packed: boolean;
  /** Repeated scalars/enums may arrive packed. */
  packable: boolean;
  quantity: boolean;
  /** A string whose values repeat across objects: decoded values share one copy. */
  intern: boolean;
  /** Kind.Message: the nested plan (filled in lazily: types can be recursive). */
  message: MessagePlan | undefined;
  /** Kind.Enum. */
  enumValues: Record<string, number> | undefined;
  enumNames: Record<number, string> | undefined;
};

type Encoder = (w: protobuf.Writer, obj: Record<string, unknown>) => void;

export type MessagePlan = {
  name: string;
  /** The compiled encoder (compiled on first use). */
  enc: Encoder;
  fields: FieldPlan[];
  byName: Map<string, FieldPlan>;
  /** Indexed by field number (dense: field numbers are small). */
  byId: (FieldPlan | undefined)[];
};

const plans = new Map<string, MessagePlan>();

/** The (cached) plan of a message type; throws for unknown types. */
export function planFor(name: string): MessagePlan {
  const cached = plans.get(name);
  if (cached) return cached;
  const type = findMessageType(name);
  if (!type) throw new Error(`codec: unknown protobuf message type ${JSON.stringify(name)}`);
  return buildPlan(type);
}

function buildPlan(type: protobuf.Type): MessagePlan {
  const name = typeName(type);
  const existing = plans.get(name);
  if (existing) return existing;
  const plan: MessagePlan = {
    name,
    enc: (w, obj) => {
      plan.enc = compileEncoder(plan);
      plan.enc(w, obj);
    },
    fields: [],
    byName: new Map(),
    byId: [],
  };
  plans.set(name, plan); // before the fields: recursive types find it
  const nested: [FieldPlan, protobuf.Type][] = [];
  let maxId = 0;
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field.id === EMPTY_FIELDS_ID) throw new Error(`codec: ${name}.${field.name} uses the reserved field number`);
    const isMap = field instanceof protobuf.MapField;
    if (isMap && field.keyType !== 'string') {
      throw new Error(`codec: ${name}.${field.name}: only map<string, ...> is supported`);
    }
    const resolved = field.resolvedType;
    let kind: Kind = Kind.Scalar;
    let scalar: ScalarCode = T.string;
    let wireType = 2;
    let enumValues: Record<string, number> | undefined;
    let enumNames: Record<number, string> | undefined;
    if (resolved instanceof protobuf.Type) {
      const full = typeName(resolved);
      kind = full === INT_OR_STRING_TYPE ? Kind.IntOrString : full === RAW_JSON_TYPE ? Kind.RawJSON : Kind.Message;
    } else if (resolved instanceof protobuf.Enum) {
      kind = Kind.Enum;
      wireType = 0;
      enumValues = resolved.values;
      enumNames = resolved.valuesById;
    } else {
      const code = (T as Record<string, ScalarCode>)[field.type];
      if (code === undefined) throw new Error(`codec: ${name}.${field.name}: unsupported type ${field.type}`);
      scalar = code;
      wireType = WIRE[code];
    }
    const repeated = field.repeated && !isMap;
    const packable = repeated && (kind === Kind.Enum || (kind === Kind.Scalar && wireType !== 2));
    const fp: FieldPlan = {
      name: field.name,
      id: field.id,
      index: plan.fields.length,
      kind,
      repeated,
      map: isMap,
      scalar,
      wireType,
      tag: ((field.id << 3) | (isMap ? 2 : wireType)) >>> 0,
      packed: packable && field.packed,
      packable,
      quantity: QUANTITY_FIELDS.has(`${name}.${field.name}`),
      intern: kind === Kind.Scalar && scalar === T.string && !UNIQUE_STRINGS.has(field.name),
      message: undefined,
      enumValues,
      enumNames,
    };
    if (kind === Kind.Message) nested.push([fp, resolved as protobuf.Type]);
    plan.fields.push(fp);
    plan.byName.set(fp.name, fp);
    maxId = Math.max(maxId, fp.id);
  }
  plan.byId = new Array<FieldPlan | undefined>(maxId + 1).fill(undefined);
  for (const fp of plan.fields) plan.byId[fp.id] = fp;
  for (const [fp, t] of nested) fp.message = buildPlan(t);
  return plan;
}

// ------------------------------------------------------------------- encode

const EMPTY_TAG = ((EMPTY_FIELDS_ID << 3) | 2) >>> 0;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v;
}

function mismatch(expected: string, v: unknown): CodecError {
  return new CodecError(`expected ${expected}, got ${describe(v)}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function checkInt(v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw mismatch(`${what} (integer)`, v);
  if (v < min || v > max) throw new CodecError(`${v} is out of range for ${what}`);
  return v;
}

const I32 = 2 ** 31;
const U32 = 2 ** 32;
const I64 = 2 ** 63;
const U64 = 2 ** 64;

function writeScalar(w: protobuf.Writer, code: ScalarCode, v: unknown, quantity: boolean): void {
  switch (code) {
    case T.string:
      if (typeof v === 'string') w.string(v);
      else if (quantity && typeof v === 'number' && Number.isFinite(v)) w.string(String(v));
      else throw mismatch(quantity ? 'string or number (quantity)' : 'string', v);
      return;
    case T.bool:
      if (typeof v !== 'boolean') throw mismatch('boolean', v);
      w.bool(v);
      return;
    case T.int32:
      w.int32(checkInt(v, -I32, I32 - 1, 'int32'));
      return;
    case T.uint32:
      w.uint32(checkInt(v, 0, U32 - 1, 'uint32'));
      return;
    case T.sint32:
      w.sint32(checkInt(v, -I32, I32 - 1, 'sint32'));
      return;
    case T.fixed32:
      w.fixed32(checkInt(v, 0, U32 - 1, 'fixed32'));
      return;
    case T.sfixed32:
      w.sfixed32(checkInt(v, -I32, I32 - 1, 'sfixed32'));
      return;
    case T.int64:
      w.int64(checkInt(v, -I64, I64 - 1, 'int64'));
      return;
    case T.uint64:
      w.uint64(checkInt(v, 0, U64 - 1, 'uint64'));
      return;
    case T.sint64:
      w.sint64(checkInt(v, -I64, I64 - 1, 'sint64'));
      return;
    case T.fixed64:
      w.fixed64(checkInt(v, 0, U64 - 1, 'fixed64'));
      return;
    case T.sfixed64:
      w.sfixed64(checkInt(v, -I64, I64 - 1, 'sfixed64'));
      return;
    case T.double:
    case T.float:
      if (typeof v !== 'number') throw mismatch('number', v);
      if (code === T.double) w.double(v);
      else w.float(v);
      return;
    case T.bytes:
      if (!(v instanceof Uint8Array)) throw mismatch('bytes (Uint8Array)', v);
      w.bytes(v);
      return;
  }
}

/** Writes the zero value of a field's type (for `null` list elements and map values). */
function writeZero(w: protobuf.Writer, f: FieldPlan): void {
  switch (f.kind) {
    case Kind.Scalar:
      if (f.scalar === T.string || f.scalar === T.bytes) w.uint32(0);
      else if (f.scalar === T.bool) w.bool(false);
      else writeScalar(w, f.scalar, 0, false);
      return;
    case Kind.Enum:
      w.int32(0);
      return;
    case Kind.IntOrString:
      writeValue(w, f, 0);
      return;
    case Kind.RawJSON:
      writeValue(w, f, null);
      return;
    case Kind.Message:
      w.uint32(0);
      return;
  }
}

/** Writes one value of field `f` (without its key). */
function writeValue(w: protobuf.Writer, f: FieldPlan, v: unknown): void {
  switch (f.kind) {
    case Kind.Scalar:
      writeScalar(w, f.scalar, v, f.quantity);
      return;
    case Kind.Message:
      if (!isObject(v)) throw mismatch('object', v);
      w.fork();
      f.message!.enc(w, v);
      w.ldelim();
      return;
    case Kind.IntOrString:
      w.fork();
      if (typeof v === 'number') {
        const n = checkInt(v, -I32, I32 - 1, 'integer or string');
        w.uint32(8).uint32(0).uint32(16).int32(n);
      } else if (typeof v === 'string') {
        w.uint32(8).uint32(1).uint32(26).string(v);
      } else {
        throw mismatch('integer or string', v);
      }
      w.ldelim();
      return;
    case Kind.RawJSON: {
      const text = JSON.stringify(v);
      if (text === undefined) throw mismatch('JSON value', v);
      w.fork();
      w.uint32(10).string(text);
      w.ldelim();
      return;
    }
    case Kind.Enum:
      if (typeof v === 'string') {
        const n = f.enumValues![v];
        if (n === undefined) throw new CodecError(`unknown enum value ${JSON.stringify(v)}`);
        w.int32(n);
      } else {
        w.int32(checkInt(v, -I32, I32 - 1, 'enum'));
      }
      return;
  }
}

function writeElement(w: protobuf.Writer, f: FieldPlan, v: unknown): void {
  if (v === null) writeZero(w, f);
  else writeValue(w, f, v);
}

/** Writes a repeated or map field (key included); returns the updated empty-field list. */
function writeCollection(w: protobuf.Writer, f: FieldPlan, v: unknown, empties: number[] | undefined): number[] | undefined {
  if (f.map) {
    if (!isObject(v)) throw mismatch('object (map)', v);
    const keys = Object.keys(v);
    if (keys.length === 0) {
      (empties ??= []).push(f.id);
      return empties;
    }
    if (keys.length > 1) keys.sort();
    for (const k of keys) {
      try {
        w.uint32(f.tag).fork();
        w.uint32(10).string(k);
        w.uint32(16 | f.wireType);
        writeElement(w, f, v[k]);
        w.ldelim();
      } catch (err) {
        throw err instanceof CodecError ? err.within(`[${k}]`) : err; // Kubernetes' field.Path style
      }
    }
    return empties;
  }
  if (!Array.isArray(v)) throw mismatch('array', v);
  if (v.length === 0) {
    (empties ??= []).push(f.id);
    return empties;
  }
  if (f.packed) w.uint32(((f.id << 3) | 2) >>> 0).fork();
  for (let j = 0; j < v.length; j++) {
    try {
      if (!f.packed) w.uint32(f.tag);
      writeElement(w, f, v[j]);
    } catch (err) {
      throw err instanceof CodecError ? err.within(`[${j}]`) : err;
    }
  }
  if (f.packed) w.ldelim();
  return empties;
}

function writeEmpties(w: protobuf.Writer, empties: number[]): void {
  w.uint32(EMPTY_TAG).fork();
  for (const id of empties) w.uint32(id);
  w.ldelim();
}

function withField(err: unknown, f: FieldPlan | undefined): unknown {
  return err instanceof CodecError && f ? err.within(f.name) : err;
}

/** What the generated encoders call (everything but the common fast paths). */
const helpers = { writeScalar, writeValue, writeCollection, writeEmpties, withField, isObject, mismatch };

/**
 * Compiles the encoder of one message type: straight-line code with a constant
 * property name per field (the generic loop's keyed lookups of every declared
 * field cost ~2x), fast paths for strings, int32 and bools, and the helpers above
 * for everything else. The same technique protobufjs uses for its own encoders.
 */
function compileEncoder(plan: MessagePlan): Encoder {
  const lines: string[] = ['var v, at, e;', 'try {'];
  plan.fields.forEach((f, i) => {
    lines.push(`at = F[${i}]; v = o[${JSON.stringify(f.name)}];`, 'if (v !== undefined && v !== null) {');
    if (f.map || f.repeated) {
      lines.push(`e = H.writeCollection(w, at, v, e);`);
    } else if (f.kind === Kind.Message) {
      lines.push(
        `if (!H.isObject(v)) throw H.mismatch("object", v);`,
        `w.uint32(${f.tag}).fork(); at.message.enc(w, v); w.ldelim();`,
      );
    } else if (f.kind === Kind.Scalar && f.scalar === T.string) {
      lines.push(`w.uint32(${f.tag}); if (typeof v === "string") w.string(v); else H.writeScalar(w, ${f.scalar}, v, at.quantity);`);
    } else if (f.kind === Kind.Scalar && f.scalar === T.int32) {
      lines.push(`w.uint32(${f.tag}); if (typeof v === "number" && (v | 0) === v) w.int32(v); else H.writeScalar(w, ${f.scalar}, v, false);`);
    } else if (f.kind === Kind.Scalar && f.scalar === T.bool) {
      lines.push(`w.uint32(${f.tag}); if (v === true || v === false) w.bool(v); else H.writeScalar(w, ${f.scalar}, v, false);`);
    } else {
      lines.push(`w.uint32(${f.tag}); H.writeValue(w, at, v);`);
    }
    lines.push('}');
  });
  lines.push('} catch (err) { throw H.withField(err, at); }', 'if (e !== undefined) H.writeEmpties(w, e);');
  const factory = new Function('F', 'H', `return function encode_${plan.name.replace(/\W/g, '_')}(w, o) {\n${lines.join('\n')}\n};`);
  return factory(plan.fields, helpers) as Encoder;
}

/** Writes the fields of `obj` as message `plan` (without length prefix). */
export function encodeFields(w: protobuf.Writer, plan: MessagePlan, obj: Record<string, unknown>): void {
  plan.enc(w, obj);
}

// ------------------------------------------------------------------- decode

/**
 * Most short strings repeat across objects ("TCP", "Always", image names,
 * label keys and values): decoded objects share one copy of each, which makes a
 * cache of many similar objects (the API server's watch cache) about 40%
 * smaller and decoding faster. Fields that are unique per object (names, uids,
 * times, addresses) are left out so that they do not crowd the table; when it
 * fills up anyway it starts over.
 */
const UNIQUE_STRINGS = new Set([
  'name', 'generateName', 'uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp',
  'startedAt', 'finishedAt', 'lastTransitionTime', 'lastHeartbeatTime', 'lastProbeTime', 'lastUpdateTime',
  'firstTimestamp', 'lastTimestamp', 'eventTime', 'renewTime', 'acquireTime', 'timeAdded',
  'podIP', 'hostIP', 'ip', 'address', 'containerID', 'message', 'holderIdentity', 'continue',
]);
const INTERN_LENGTH = 64;
const INTERN_MAX = 20_000;
const interned = new Map<string, string>();
function intern(s: string): string {
  if (s.length > INTERN_LENGTH) return s;
  const known = interned.get(s);
  if (known !== undefined) return known;
  if (interned.size >= INTERN_MAX) interned.clear();
  interned.set(s, s);
  return s;
}

/** int64 reads give a Long (protobufjs has long.js); the JSON shape wants a number. */
function num(v: unknown): number {
  return typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber();
}

function readScalar(r: protobuf.Reader, code: ScalarCode): unknown {
  switch (code) {
    case T.string:
      return r.string();
    case T.bool:
      return r.bool();
    case T.int32:
      return r.int32();
    case T.uint32:
      return r.uint32();
    case T.sint32:
      return r.sint32();
    case T.fixed32:
      return r.fixed32();
    case T.sfixed32:
      return r.sfixed32();
    case T.int64:
      return num(r.int64());
    case T.uint64:
      return num(r.uint64());
    case T.sint64:
      return num(r.sint64());
    case T.fixed64:
      return num(r.fixed64());
    case T.sfixed64:
      return num(r.sfixed64());
    case T.double:
      return r.double();
    case T.float:
      return r.float();
    case T.bytes:
      // A copy: never alias the caller's buffer.
      return new Uint8Array(r.bytes());
  }
}

/** The zero value of a field's type (a map entry without a value). */
function zeroValue(f: FieldPlan): unknown {
  switch (f.kind) {
    case Kind.Scalar:
      if (f.scalar === T.string) return '';
      if (f.scalar === T.bool) return false;
      if (f.scalar === T.bytes) return new Uint8Array(0);
      return 0;
    case Kind.Enum:
      return f.enumNames![0] ?? 0;
    case Kind.IntOrString:
      return 0;
    case Kind.RawJSON:
      return null;
    case Kind.Message:
      return {};
  }
}

function endOf(r: protobuf.Reader): number {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > r.len) throw new CodecError(`length ${len} runs past the end of the data`);
  return end;
}

function checkEnd(r: protobuf.Reader, end: number): void {
  if (r.pos !== end) throw new CodecError('a field runs past the end of its message');
}

/** Reads one value of field `f` (its key already read). */
function readValue(r: protobuf.Reader, f: FieldPlan): unknown {
  switch (f.kind) {
    case Kind.Scalar:
      return f.intern ? intern(r.string()) : readScalar(r, f.scalar);
    case Kind.Message: {
      const end = endOf(r);
      return decodeFields(r, f.message!, end);
    }
    case Kind.IntOrString: {
      const end = endOf(r);
      let type: number | undefined;
      let intVal: number | undefined;
      let strVal: string | undefined;
      while (r.pos < end) {
        const tag = r.uint32();
        if (tag === 8) type = num(r.int64());
        else if (tag === 16) intVal = r.int32();
        else if (tag === 26) strVal = r.string();
        else r.skipType(tag & 7);
      }
      checkEnd(r, end);
      return type === 1 || (type === undefined && strVal !== undefined) ? (strVal ?? '') : (intVal ?? 0);
    }
    case Kind.RawJSON: {
      const end = endOf(r);
      let text: string | undefined;
      while (r.pos < end) {
        const tag = r.uint32();
        if (tag === 10) text = r.string();
        else r.skipType(tag & 7);
      }
      checkEnd(r, end);
      if (text === undefined) return null;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new CodecError('RawJSON does not hold valid JSON');
      }
    }
    case Kind.Enum: {
      const n = r.int32();
      return f.enumNames![n] ?? n;
    }
  }
}

function readMapEntry(r: protobuf.Reader, f: FieldPlan, into: Record<string, unknown>): void {
  const end = endOf(r);
  let key = '';
  let value: unknown;
  let seen = false;
  const valueTag = 16 | f.wireType;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 10) key = r.string();
    else if (tag === valueTag) {
      value = readValue(r, f);
      seen = true;
    } else r.skipType(tag & 7);
  }
  checkEnd(r, end);
  const v = seen ? value : zeroValue(f);
  // A plain assignment to "__proto__" would set the prototype instead of a key.
  if (key === '__proto__') Object.defineProperty(into, key, { value: v, enumerable: true, writable: true, configurable: true });
  else into[key] = v;
}

/** Reads the fields of message `plan` up to `end`. */
export function decodeFields(r: protobuf.Reader, plan: MessagePlan, end: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const byId = plan.byId;
  let hadEmpties = false;
  while (r.pos < end) {
    const tag = r.uint32();
    const id = tag >>> 3;
    const wt = tag & 7;
    const f = id < byId.length ? byId[id] : undefined;
    if (f === undefined) {
      if (id === EMPTY_FIELDS_ID && wt === 2) {
        const stop = endOf(r);
        while (r.pos < stop) {
          const g = byId[r.uint32()];
          if (g && (g.repeated || g.map) && out[g.name] === undefined) {
            out[g.name] = g.map ? {} : [];
            hadEmpties = true;
          }
        }
        checkEnd(r, stop);
      } else {
        r.skipType(wt);
      }
      continue;
    }
    try {
      if (f.map) {
        if (wt !== 2) {
          r.skipType(wt);
          continue;
        }
        let m = out[f.name] as Record<string, unknown> | undefined;
        if (m === undefined) out[f.name] = m = {};
        readMapEntry(r, f, m);
      } else if (f.repeated) {
        const packed = wt === 2 && f.packable;
        if (!packed && wt !== f.wireType) {
          r.skipType(wt);
          continue;
        }
        let arr = out[f.name] as unknown[] | undefined;
        if (arr === undefined) out[f.name] = arr = [];
        if (packed) {
          const stop = endOf(r);
          while (r.pos < stop) arr.push(readValue(r, f));
          checkEnd(r, stop);
        } else {
          arr.push(readValue(r, f));
        }
      } else if (wt === f.wireType) {
        out[f.name] = readValue(r, f);
      } else {
        r.skipType(wt);
      }
    } catch (err) {
      throw err instanceof CodecError ? err.within(f.name) : err;
    }
  }
  checkEnd(r, end);
  if (!hadEmpties) return out;
  // The empty lists were appended after the other fields: restore field order.
  const ordered: Record<string, unknown> = {};
  for (const f of plan.fields) if (out[f.name] !== undefined) ordered[f.name] = out[f.name];
  return ordered;
}
