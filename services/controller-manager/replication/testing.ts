/**
 * Builders for the replication logic's tests: pods, ReplicaSets and
 * Deployments in the shapes the informers hand out, with only what a test says.
 */
import { DESIRED_REPLICAS, MAX_REPLICAS } from './revisions.js';
import type { DeploymentView, IntOrPercent, PodView, ReplicaSetView } from './types.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** `T0 + seconds`, as an RFC 3339 stamp. */
export function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function atMs(seconds: number): number {
  return T0 + seconds * 1000;
}

export class PodBuilder {
  private readonly pod: PodView;

  constructor(name: string) {
    this.pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', uid: `uid-${name}`, creationTimestamp: at(0), labels: {} }, spec: {}, status: { phase: 'Pending' } };
  }

  node(name: string): this {
    this.pod.spec!.nodeName = name;
    return this;
  }

  phase(p: string): this {
    this.pod.status!.phase = p;
    return this;
  }

  /** Running and ready since `seconds`. */
  ready(seconds = 0): this {
    this.pod.status!.phase = 'Running';
    this.pod.status!.conditions = [{ type: 'Ready', status: 'True', lastTransitionTime: at(seconds) }];
    return this;
  }

  restarts(n: number): this {
    this.pod.status!.containerStatuses = [{ restartCount: n }];
    return this;
  }

  created(seconds: number): this {
    this.pod.metadata!.creationTimestamp = at(seconds);
    return this;
  }

  labels(l: Record<string, string>): this {
    this.pod.metadata!.labels = { ...this.pod.metadata!.labels, ...l };
    return this;
  }

  annotate(k: string, v: string): this {
    this.pod.metadata!.annotations = { ...this.pod.metadata!.annotations, [k]: v };
    return this;
  }

  deleting(): this {
    this.pod.metadata!.deletionTimestamp = at(100);
    return this;
  }

  build(): PodView {
    return structuredClone(this.pod);
  }
}

export const makePod = (name: string) => new PodBuilder(name);

export type RSOptions = {
  /** status.replicas (default: spec). */
  current?: number;
  /** status.availableReplicas (default: current). */
  available?: number;
  created?: number;
  /** The Deployment size it was last scaled for: desired-replicas and max-replicas. */
  sizedFor?: { desired: number; max: number };
  image?: string;
};

export function makeRS(name: string, replicas: number, o: RSOptions = {}): ReplicaSetView {
  const current = o.current ?? replicas;
  const available = o.available ?? current;
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      generation: 1,
      creationTimestamp: at(o.created ?? 0),
      annotations: o.sizedFor ? { [DESIRED_REPLICAS]: String(o.sizedFor.desired), [MAX_REPLICAS]: String(o.sizedFor.max) } : {},
    },
    spec: { replicas, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'main', image: o.image ?? 'busybox:1.36' }] } } },
    status: { replicas: current, readyReplicas: available, availableReplicas: available, observedGeneration: 1 },
  };
}

export type DeploymentOptions = {
  maxSurge?: IntOrPercent;
  maxUnavailable?: IntOrPercent;
  strategy?: 'RollingUpdate' | 'Recreate';
  generation?: number;
  progressDeadlineSeconds?: number;
};

export function makeDeployment(replicas: number, o: DeploymentOptions = {}): DeploymentView {
  const strategy = o.strategy ?? 'RollingUpdate';
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'ns', uid: 'uid-web', generation: o.generation ?? 1 },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] } },
      strategy:
        strategy === 'Recreate' ? { type: strategy } : { type: strategy, rollingUpdate: { maxSurge: o.maxSurge ?? '25%', maxUnavailable: o.maxUnavailable ?? '25%' } },
      progressDeadlineSeconds: o.progressDeadlineSeconds ?? 600,
    },
    status: {},
  };
}
