/**
 * The `/scale` subresource of ReplicationControllers, ReplicaSets and
 * Deployments: an autoscaling/v1 Scale view of the owner's replica count.
 */
import type { KObject, ResourceInfo } from '../../lib/api/resources.js';
import { errors } from '../../lib/errors/index.js';
import { clone } from './strategy.js';

type ScalableSpec = { replicas?: number; selector?: Record<string, unknown> };

function selectorString(resource: ResourceInfo, spec: ScalableSpec): string {
  const sel = (spec.selector ?? {}) as Record<string, unknown>;
  // RCs have a plain map; apps/v1 kinds have matchLabels (+ expressions, not shown here).
  const labels = (resource.kind === 'ReplicationController' ? sel : sel.matchLabels) as Record<string, string> | undefined;
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function getScale(resource: ResourceInfo, obj: KObject): KObject {
  const spec = (obj.spec ?? {}) as ScalableSpec;
  const meta = obj.metadata!;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      uid: meta.uid,
      resourceVersion: meta.resourceVersion,
      creationTimestamp: meta.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 0 },
    status: {
      replicas: (obj.status as { replicas?: number } | undefined)?.replicas ?? 0,
      selector: selectorString(resource, spec),
    },
  };
}

/** The owner with the Scale's replica count applied. */
export function scaleToReplicas(resource: ResourceInfo, owner: KObject, scale: KObject): KObject {
  const replicas = (scale.spec as { replicas?: unknown } | undefined)?.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw errors.invalid('Scale', owner.metadata!.name!, [
      { reason: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be a non-negative integer` },
    ]);
  }
  const wanted = scale.metadata?.resourceVersion;
  if (wanted && wanted !== owner.metadata?.resourceVersion) {
    throw errors.conflict(resource.plural, owner.metadata!.name!, 'the object has been modified; please apply your changes to the latest version and try again', resource.group);
  }
  const next = clone(owner);
  (next.spec as ScalableSpec).replicas = replicas;
  return next;
}
