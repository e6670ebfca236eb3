/**
 * The protobuf schema at runtime: the reflection Root built from the descriptor
 * that `npm run gen` writes (services/lib/gen/descriptor.ts, from protos/*.proto),
 * plus the few facts the codec adds on top of the .proto files.
 */
import protobuf from 'protobufjs/light.js';

import { descriptor } from '../gen/descriptor.js';

/** JSON `8080` or `"http"`: encoded as this message (see protos/meta.proto). */
export const INT_OR_STRING_TYPE = 'keelson.meta.v1.IntOrString';

/** Any JSON value (e.g. managedFields[].fieldsV1): encoded as its JSON text. */
export const RAW_JSON_TYPE = 'keelson.meta.v1.RawJSON';

/**
 * The field number the codec reserves in every message: a packed `repeated
 * uint32` with the numbers of the repeated/map fields that were present but empty
 * (`[]`, `{}`) in the JSON, so that they come back on decode. The largest legal
 * field number, so that it never collides with a declared one.
 */
export const EMPTY_FIELDS_ID = 536870911;

/**
 * Resource quantities: string fields (or map<string,string> values) that also
 * accept a JSON number, as Kubernetes' resource.Quantity does (`cpu: 1` in YAML).
 * Numbers are stored as `String(n)`. Keys are `<message full name>.<field>`.
 */
export const QUANTITY_FIELDS: ReadonlySet<string> = new Set([
  'keelson.core.v1.ResourceRequirements.limits',
  'keelson.core.v1.ResourceRequirements.requests',
  'keelson.core.v1.NodeStatus.capacity',
  'keelson.core.v1.NodeStatus.allocatable',
  'keelson.core.v1.PodSpec.overhead',
  'keelson.core.v1.EmptyDirVolumeSource.sizeLimit',
  'keelson.core.v1.ResourceFieldSelector.divisor',
]);

let root: protobuf.Root | undefined;

/** The resolved reflection root of every Keelson .proto file. */
export function schemaRoot(): protobuf.Root {
  if (!root) {
    const r = protobuf.Root.fromJSON(descriptor);
    r.resolveAll();
    root = r;
  }
  return root;
}

/** `.keelson.core.v1.Pod` → `keelson.core.v1.Pod`. */
export function typeName(t: protobuf.ReflectionObject): string {
  return t.fullName.startsWith('.') ? t.fullName.slice(1) : t.fullName;
}

/** The message type called `name` (fully qualified), or undefined. */
export function findMessageType(name: string): protobuf.Type | undefined {
  const found = schemaRoot().lookup(name.startsWith('.') ? name : `.${name}`);
  return found instanceof protobuf.Type ? found : undefined;
}
