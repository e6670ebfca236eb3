/**
 * Validation of every kind the apiserver serves: pure functions from an object (and,
 * on update, the stored one) to the list of problems, each a StatusCause for a 422
 * Invalid. An empty list means the object may be stored.
 *
 * The checks accept objects before or after `applyDefaults`: a field Kubernetes
 * defaults may be absent here. Create rules also run on update; update adds the
 * immutability rules.
 */
import { resourceForKind, type KObject } from '../../../lib/api/resources.js';
import { validateObjectMeta, validateObjectMetaUpdate } from './common.js';
import { Errs, type FieldCause } from './errors.js';
import { validateEndpoints } from './endpoints.js';
import { validateEvent } from './event.js';
import { validateLease } from './lease.js';
import { validateBinding, validateBindingUpdate, validateRole } from './rbac.js';
import { validateNamespace, validateNamespaceStatus } from './namespace.js';
import { validateNode, validateNodeStatus, validateNodeUpdate } from './node.js';
import { validatePod, validatePodStatus, validatePodUpdate } from './pod.js';
import { DEFAULT_NODE_PORT_RANGE, validateService, validateServiceUpdate, type PortRange } from './service.js';
import { isDNS1035Label, isDNS1123Label, isDNS1123Subdomain } from './syntax.js';
import {
  validateDeployment,
  validateReplicaSet,
  validateReplicationController,
  validateSelectorUpdate,
  validateWorkloadStatus,
} from './workloads.js';

export { Errs, type CauseReason, type FieldCause } from './errors.js';
export { DEFAULT_NODE_PORT_RANGE, type PortRange } from './service.js';
export { POD_UPDATE_MESSAGE } from './pod.js';
export {
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isIP,
  isIPv4,
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
} from './syntax.js';

export type ValidationOptions = {
  /** Where Service node ports may lie; 30000–32767 unless configured. */
  serviceNodePortRange?: PortRange;
};

/** `old` is the stored object when the rules run for an update. */
type Validator = (obj: KObject, e: Errs, opts: Required<ValidationOptions>, old?: KObject) => void;

const CREATE: Record<string, Validator> = {
  Namespace: (o, e) => validateNamespace(o, e),
  Pod: (o, e) => validatePod(o, e),
  Node: (o, e) => validateNode(o, e),
  Service: (o, e, opts, old) => validateService(o, opts.serviceNodePortRange, e, old),
  Endpoints: (o, e) => validateEndpoints(o, e),
  ReplicationController: (o, e) => validateReplicationController(o, e),
  Event: (o, e) => validateEvent(o, e),
  Deployment: (o, e) => validateDeployment(o, e),
  ReplicaSet: (o, e) => validateReplicaSet(o, e),
  Lease: (o, e) => validateLease(o, e),
  Role: (o, e) => validateRole(o, e),
  ClusterRole: (o, e) => validateRole(o, e),
  RoleBinding: (o, e) => validateBinding(o, e),
  ClusterRoleBinding: (o, e) => validateBinding(o, e),
};

type UpdateRule = (obj: KObject, old: KObject, e: Errs) => void;

const UPDATE: Record<string, UpdateRule> = {
  Pod: validatePodUpdate,
  Service: validateServiceUpdate,
  Node: validateNodeUpdate,
  Deployment: validateSelectorUpdate,
  ReplicaSet: validateSelectorUpdate,
  RoleBinding: validateBindingUpdate,
  ClusterRoleBinding: validateBindingUpdate,
};

const STATUS: Record<string, UpdateRule> = {
  Pod: validatePodStatus,
  Node: (o, _old, e) => validateNodeStatus(o, e),
  Namespace: (o, _old, e) => validateNamespaceStatus(o, e),
  ReplicationController: (o, _old, e) => validateWorkloadStatus(o, e),
  ReplicaSet: (o, _old, e) => validateWorkloadStatus(o, e),
  Deployment: (o, _old, e) => validateWorkloadStatus(o, e),
};

const withDefaults = (opts: ValidationOptions | undefined): Required<ValidationOptions> => ({
  serviceNodePortRange: opts?.serviceNodePortRange ?? DEFAULT_NODE_PORT_RANGE,
});

/** Metadata rules alone, for status writes and kinds without rules of their own. */
function validateMeta(kind: string, obj: KObject, e: Errs): void {
  const name = kind === 'Namespace' ? isDNS1123Label : kind === 'Service' ? isDNS1035Label : isDNS1123Subdomain;
  validateObjectMeta(obj.metadata, { namespaced: resourceForKind(kind)?.namespaced ?? false, name }, e);
}

function runCreate(kind: string, obj: KObject, e: Errs, opts: ValidationOptions | undefined, old?: KObject): void {
  const validate = CREATE[kind];
  if (validate) validate(obj, e, withDefaults(opts), old);
  else validateMeta(kind, obj, e);
}

/** Problems with a new object of `kind` (e.g. `Pod`); [] when it is valid. */
export function validateCreate(kind: string, obj: KObject, opts?: ValidationOptions): FieldCause[] {
  const e = new Errs();
  runCreate(kind, obj, e, opts);
  return e.causes;
}

/** Problems with replacing `old` by `obj`: the create rules, then what may not change. */
export function validateUpdate(kind: string, obj: KObject, old: KObject, opts?: ValidationOptions): FieldCause[] {
  const e = new Errs();
  runCreate(kind, obj, e, opts, old);
  validateObjectMetaUpdate(obj.metadata, old.metadata, e);
  UPDATE[kind]?.(obj, old, e);
  return e.causes;
}

/**
 * Problems with a write to the `status` subresource. The store keeps the old spec
 * for such writes, so only metadata identity and the status itself are checked.
 */
export function validateStatusUpdate(kind: string, obj: KObject, old: KObject): FieldCause[] {
  const e = new Errs();
  validateMeta(kind, obj, e);
  validateObjectMetaUpdate(obj.metadata, old.metadata, e);
  STATUS[kind]?.(obj, old, e);
  return e.causes;
}
