/**
 * The replication controllers' logic (ReplicationController, ReplicaSet,
 * Deployment), kept apart from their event handling so it can be tested
 * without a cluster: which pods count and which go first, slow-start batches,
 * replica status, ownership claims, the pod-template-hash, revisions, the
 * rollout arithmetic and the Deployment's status and conditions.
 */
export * from './types.js';
export { isPodActive, isPodAvailable, isPodReady, msUntilAvailable, podFromTemplate, podsToDelete, readySince, POD_DELETION_COST } from './pods.js';
export { slowStartBatch, SLOW_START_INITIAL_BATCH, type SlowStartResult } from './slow-start.js';
export { calculateReplicaStatus, mapSelector, REPLICA_FAILURE, sameConditions, sameReplicaStatus } from './replica-status.js';
export { claimObjects, controllerRefOf, controllerRefTo, resolveControllerRef, type ClaimOptions } from './claim.js';
export { canonicalJson, computeTemplateHash, equalIgnoreHash, POD_TEMPLATE_HASH, safeEncode, withHashLabel } from './template-hash.js';
export {
  byRevision,
  DESIRED_REPLICAS,
  desiredReplicasOf,
  MAX_REPLICAS,
  maxRevision,
  replicasAnnotationsNeedUpdate,
  REVISION,
  REVISION_HISTORY,
  revisionOf,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
} from './revisions.js';
export {
  active,
  availableOf,
  findActiveOrLatest,
  isRollingUpdate,
  isSaturated,
  isScalingEvent,
  maxSurge,
  maxUnavailable,
  newRSNewReplicas,
  planOldScaleDown,
  planScale,
  RECREATE,
  resolveFenceposts,
  ROLLING_UPDATE,
  scaledValue,
  sumSpec,
  type ScaleStep,
} from './rollout.js';
export {
  AVAILABLE,
  calculateStatus,
  deploymentComplete,
  getCondition,
  hasProgressDeadline,
  newCondition,
  pausedCondition,
  PROGRESSING,
  Reasons,
  removeCondition,
  rolloutStatus,
  sameDeploymentStatus,
  setCondition,
} from './deployment-status.js';
