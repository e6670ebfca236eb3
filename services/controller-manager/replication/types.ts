/**
 * The shapes the replication controllers read: pods, ReplicaSets (and
 * ReplicationControllers, which look the same where it matters) and
 * Deployments, as the informers hand them out (Kubernetes JSON field names).
 * Absent counts read as Kubernetes reads them: `spec.replicas` 1, the rest 0.
 */
import type { KObject } from '../../lib/api/resources.js';
import { isApiError } from '../../lib/errors/index.js';
import type { LabelSelectorSpec } from '../../lib/selectors/index.js';

export type Condition = {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
};

export type PodTemplate = {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[]; [k: string]: unknown };
  spec?: Record<string, unknown>;
};

export type PodView = KObject & {
  spec?: { nodeName?: string; [k: string]: unknown };
  status?: {
    phase?: string;
    conditions?: Condition[];
    containerStatuses?: { restartCount?: number }[];
    initContainerStatuses?: { restartCount?: number }[];
  };
};

export type ReplicaStatus = {
  replicas?: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: Condition[];
};

/** A ReplicaSet, or a ReplicationController (whose selector is a plain map). */
export type ReplicaSetView = KObject & {
  spec?: {
    replicas?: number;
    minReadySeconds?: number;
    selector?: LabelSelectorSpec | Record<string, string>;
    template?: PodTemplate;
  };
  status?: ReplicaStatus;
};

export type IntOrPercent = number | string;

export type DeploymentStatus = {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: Condition[];
  collisionCount?: number;
};

export type DeploymentView = KObject & {
  spec?: {
    replicas?: number;
    selector?: LabelSelectorSpec;
    template?: PodTemplate;
    strategy?: { type?: string; rollingUpdate?: { maxSurge?: IntOrPercent; maxUnavailable?: IntOrPercent } };
    minReadySeconds?: number;
    revisionHistoryLimit?: number;
    paused?: boolean;
    progressDeadlineSeconds?: number;
  };
  status?: DeploymentStatus;
};

/** A LabelSelector with no requirement: it would select every pod, so a Deployment may not have one. */
export function isEmptySelector(sel: LabelSelectorSpec | undefined): boolean {
  return !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0);
}

/** spec.replicas; absent means 1 (the API server defaults it). */
export function specReplicas(o: ReplicaSetView | DeploymentView | undefined): number {
  return o?.spec?.replicas ?? 1;
}

export function statusReplicas(rs: ReplicaSetView): number {
  return rs.status?.replicas ?? 0;
}

export function availableReplicas(rs: ReplicaSetView): number {
  return rs.status?.availableReplicas ?? 0;
}

export function readyReplicas(rs: ReplicaSetView): number {
  return rs.status?.readyReplicas ?? 0;
}

/** Milliseconds since the epoch of an RFC 3339 time; 0 when absent or unreadable. */
export function timeOf(stamp: string | undefined): number {
  const t = stamp ? Date.parse(stamp) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

/** Oldest first, then by name (Kubernetes' ReplicaSetsByCreationTimestamp). */
export function byCreation(a: KObject, b: KObject): number {
  const d = timeOf(a.metadata?.creationTimestamp) - timeOf(b.metadata?.creationTimestamp);
  if (d !== 0) return d;
  const na = a.metadata?.name ?? '';
  const nb = b.metadata?.name ?? '';
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** RFC 3339 to the second, as Kubernetes stamps conditions. */
export function stamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The namespace is being deleted: every create in it fails, and retrying is pointless. */
export function isNamespaceTerminating(e: unknown): boolean {
  return isApiError(e) && e.reason === 'Forbidden' && /being terminated/.test(e.message);
}
