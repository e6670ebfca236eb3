/**
 * The parts of a Kubernetes Pod (JSON shape, Kubernetes field names) that a
 * container runtime reads. Everything else in the object passes through untouched:
 * a runtime takes the Pod as the API server stores it.
 */
import type { KObject, ObjectMeta } from '../../lib/api/resources.js';

export type EnvVar = {
  name: string;
  value?: string;
  /** Resolved by the kubelet, not the runtime: a runtime skips such variables. */
  valueFrom?: unknown;
};

export type ContainerPort = {
  name?: string;
  containerPort: number;
  hostPort?: number;
  hostIP?: string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
};

export type VolumeMount = {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
};

export type ResourceList = Record<string, string | number>;

export type Container = {
  name: string;
  image?: string;
  imagePullPolicy?: PullPolicy;
  /** Replaces the image's ENTRYPOINT (and then its CMD is ignored too). */
  command?: string[];
  /** Replaces the image's CMD. */
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  ports?: ContainerPort[];
  resources?: { limits?: ResourceList; requests?: ResourceList };
  volumeMounts?: VolumeMount[];
  tty?: boolean;
  stdin?: boolean;
  stdinOnce?: boolean;
  [field: string]: unknown;
};

export type Volume = {
  name: string;
  emptyDir?: { medium?: string; sizeLimit?: string };
  hostPath?: { path: string; type?: string };
  [source: string]: unknown;
};

export type PodSpec = {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  hostname?: string;
  nodeName?: string;
  [field: string]: unknown;
};

/** A Pod as stored by the API server: `metadata.uid`, `.name` and `.namespace` are required here. */
export type Pod = KObject & {
  metadata: ObjectMeta & { name: string; uid: string; namespace?: string };
  spec: PodSpec;
};

/** Kubernetes' image pull policies. */
export const PullPolicies = { Always: 'Always', IfNotPresent: 'IfNotPresent', Never: 'Never' } as const;
export type PullPolicy = (typeof PullPolicies)[keyof typeof PullPolicies];

/** `busybox` → `busybox:latest`; a reference with a tag or a digest is kept as is. */
export function normalizeImage(image: string): string {
  if (image.includes('@')) return image;
  const lastSlash = image.lastIndexOf('/');
  return image.slice(lastSlash + 1).includes(':') ? image : `${image}:latest`;
}

/** Kubernetes' default: `Always` for `:latest` (or no tag), `IfNotPresent` otherwise. */
export function defaultPullPolicy(image: string): PullPolicy {
  return normalizeImage(image).endsWith(':latest') ? 'Always' : 'IfNotPresent';
}

export function podNamespace(pod: Pod): string {
  return pod.metadata.namespace ?? 'default';
}
