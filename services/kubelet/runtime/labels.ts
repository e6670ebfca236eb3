/**
 * How runtimes mark what they created. The four `io.keelson.*` identity labels are
 * a contract (DESIGN.md): the kubelet lists, adopts and touches only containers that
 * carry all of them, so a container someone else started is never stopped or removed.
 * `io.keelson.node` scopes them to one node: several kubelets can share one Docker
 * engine (`keelson up --nodes 2`), and each sees only the containers it created.
 */
import { podNamespace, type Pod } from './pod-spec.js';

export const Labels = {
  podUid: 'io.keelson.pod-uid',
  podName: 'io.keelson.pod-name',
  namespace: 'io.keelson.namespace',
  container: 'io.keelson.container',
  /** `sandbox` or `container`. */
  kind: 'io.keelson.kind',
  /** The instance number: 0, then one more per restart. */
  attempt: 'io.keelson.attempt',
  /** Containers: the sandbox whose network namespace they joined. */
  sandboxId: 'io.keelson.sandbox-id',
  /** Containers: the spec's `ports`, as JSON (Docker cannot publish them on a joined namespace). */
  ports: 'io.keelson.ports',
  /** The node (kubelet) whose runtime created the container. */
  node: 'io.keelson.node',
} as const;

/** The labels every managed container has; a filter on all of them finds exactly Keelson's. */
export const IDENTITY_LABELS = [Labels.podUid, Labels.podName, Labels.namespace, Labels.container] as const;

/** The container name of a pod's sandbox, as in Kubernetes. */
export const SANDBOX_CONTAINER = 'POD';

export function identityLabels(pod: Pod, container: string): Record<string, string> {
  return {
    [Labels.podUid]: pod.metadata.uid,
    [Labels.podName]: pod.metadata.name,
    [Labels.namespace]: podNamespace(pod),
    [Labels.container]: container,
  };
}

/** True when all four identity labels are present. */
export function isManaged(labels: Record<string, string> | undefined | null): boolean {
  return !!labels && IDENTITY_LABELS.every((l) => typeof labels[l] === 'string');
}

/** The node label, or none for a runtime not scoped to a node. */
export function nodeLabels(nodeName: string | undefined): Record<string, string> {
  return nodeName === undefined ? {} : { [Labels.node]: nodeName };
}

/** Docker `label` filters that find the managed containers of one node (of every node without a name). */
export function managedFilter(nodeName: string | undefined): string[] {
  return nodeName === undefined ? [...IDENTITY_LABELS] : [...IDENTITY_LABELS, `${Labels.node}=${nodeName}`];
}

/** True for a managed container of this node (of any node without a name). */
export function isOwned(labels: Record<string, string> | undefined | null, nodeName: string | undefined): boolean {
  return isManaged(labels) && (nodeName === undefined || labels![Labels.node] === nodeName);
}

/** `k8s_<container>_<pod>_<namespace>_<uid8>_<attempt>`: readable in `docker ps`, unique per attempt. */
export function runtimeName(pod: Pod, container: string, attempt: number): string {
  const uid8 = pod.metadata.uid.replace(/-/g, '').slice(0, 8);
  return `k8s_${container}_${pod.metadata.name}_${podNamespace(pod)}_${uid8}_${attempt}`;
}
