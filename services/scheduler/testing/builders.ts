/**
 * Small builders for the scheduler's tests, in the style of kube-scheduler's
 * `st.MakePod().Req(...).Node(...)`: `makePod('web').req({ cpu: '1' }).info()`,
 * `makeNode('a').cpu('4').taint('k', 'v', 'NoSchedule').info(pods)`.
 */
import type { KObject } from '../../lib/api/resources.js';
import { makePodInfo, NodeInfo, type PodInfo } from '../cache/index.js';
import type { ClusterView } from '../framework/index.js';

type Json = Record<string, any>;

export class PodBuilder {
  private readonly o: Json;

  constructor(name: string) {
    this.o = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', uid: `uid-${name}` },
      spec: { schedulerName: 'default-scheduler', containers: [{ name: 'app', image: 'busybox' }] },
      status: { phase: 'Pending' },
    };
  }

  private get spec(): Json {
    return this.o.spec;
  }

  private get container(): Json {
    return this.spec.containers[0];
  }

  ns(namespace: string): this {
    this.o.metadata.namespace = namespace;
    return this;
  }

  uid(uid: string): this {
    this.o.metadata.uid = uid;
    return this;
  }

  label(key: string, value: string): this {
    (this.o.metadata.labels ??= {})[key] = value;
    return this;
  }

  node(name: string): this {
    this.spec.nodeName = name;
    return this;
  }

  scheduler(name: string): this {
    this.spec.schedulerName = name;
    return this;
  }

  priority(p: number): this {
    this.spec.priority = p;
    return this;
  }

  phase(phase: string): this {
    this.o.status.phase = phase;
    return this;
  }

  terminating(): this {
    this.o.metadata.deletionTimestamp = '2024-01-01T00:00:00Z';
    return this;
  }

  /** Requests of the first container, e.g. `{ cpu: '500m', memory: '1Gi' }`. */
  req(requests: Record<string, string>): this {
    this.container.resources = { requests };
    return this;
  }

  /** Another container with these requests. */
  container2(requests: Record<string, string>, image = 'busybox'): this {
    this.spec.containers.push({ name: `c${this.spec.containers.length}`, image, resources: { requests } });
    return this;
  }

  initContainer(requests: Record<string, string>, restartPolicy?: 'Always'): this {
    (this.spec.initContainers ??= []).push({ name: `init${this.spec.initContainers?.length ?? 0}`, image: 'busybox', resources: { requests }, ...(restartPolicy ? { restartPolicy } : {}) });
    return this;
  }

  overhead(o: Record<string, string>): this {
    this.spec.overhead = o;
    return this;
  }

  image(image: string): this {
    this.container.image = image;
    return this;
  }

  hostPort(port: number, protocol = 'TCP', hostIP?: string): this {
    (this.container.ports ??= []).push({ containerPort: port, hostPort: port, protocol, ...(hostIP ? { hostIP } : {}) });
    return this;
  }

  toleration(key: string, operator: 'Equal' | 'Exists', value = '', effect = ''): this {
    (this.spec.tolerations ??= []).push({ key, operator, value, effect });
    return this;
  }

  nodeSelector(selector: Record<string, string>): this {
    this.spec.nodeSelector = selector;
    return this;
  }

  /** A required node affinity term (terms are ORed): `[[key, op, values?], ...]` ANDed. */
  requiredTerm(...exprs: [string, string, string[]?][]): this {
    const na = ((this.spec.affinity ??= {}).nodeAffinity ??= {});
    (na.requiredDuringSchedulingIgnoredDuringExecution ??= { nodeSelectorTerms: [] }).nodeSelectorTerms.push({
      matchExpressions: exprs.map(([key, operator, values]) => ({ key, operator, values: values ?? [] })),
    });
    return this;
  }

  /** A required term on metadata.name. */
  requiredField(operator: string, values: string[]): this {
    const na = ((this.spec.affinity ??= {}).nodeAffinity ??= {});
    (na.requiredDuringSchedulingIgnoredDuringExecution ??= { nodeSelectorTerms: [] }).nodeSelectorTerms.push({
      matchFields: [{ key: 'metadata.name', operator, values }],
    });
    return this;
  }

  preferredTerm(weight: number, ...exprs: [string, string, string[]?][]): this {
    const na = ((this.spec.affinity ??= {}).nodeAffinity ??= {});
    (na.preferredDuringSchedulingIgnoredDuringExecution ??= []).push({
      weight,
      preference: { matchExpressions: exprs.map(([key, operator, values]) => ({ key, operator, values: values ?? [] })) },
    });
    return this;
  }

  owner(uid: string, controller = true): this {
    this.o.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `rs-${uid}`, uid, controller }];
    return this;
  }

  obj(): KObject {
    return structuredClone(this.o) as KObject;
  }

  info(): PodInfo {
    return makePodInfo(this.obj());
  }
}

let nextSlot = 0;

export class NodeBuilder {
  private readonly o: Json;

  constructor(name: string) {
    this.o = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name } },
      spec: {},
      status: {
        allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
        images: [],
      },
    };
  }

  cpu(q: string): this {
    this.o.status.allocatable.cpu = q;
    return this;
  }

  memory(q: string): this {
    this.o.status.allocatable.memory = q;
    return this;
  }

  pods(n: number): this {
    this.o.status.allocatable.pods = String(n);
    return this;
  }

  allocatable(name: string, q: string): this {
    this.o.status.allocatable[name] = q;
    return this;
  }

  label(key: string, value: string): this {
    this.o.metadata.labels[key] = value;
    return this;
  }

  taint(key: string, value: string, effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule'): this {
    (this.o.spec.taints ??= []).push({ key, value, effect });
    return this;
  }

  unschedulable(): this {
    this.o.spec.unschedulable = true;
    return this;
  }

  ready(status: 'True' | 'False' | 'Unknown' | 'missing'): this {
    this.o.status.conditions = status === 'missing' ? [] : [{ type: 'Ready', status }];
    return this;
  }

  image(name: string, sizeBytes: number): this {
    this.o.status.images.push({ names: [name], sizeBytes });
    return this;
  }

  obj(): KObject {
    return structuredClone(this.o) as KObject;
  }

  /** A NodeInfo holding these pods (standalone: its slot is unique in the process). */
  info(pods: (PodInfo | PodBuilder)[] = []): NodeInfo {
    const n = new NodeInfo(this.o.metadata.name, nextSlot++);
    n.setNode(this.obj());
    for (const p of pods) n.addPod(p instanceof PodBuilder ? p.node(n.name).info() : p);
    return n;
  }
}

export const makePod = (name = 'pod') => new PodBuilder(name);
export const makeNode = (name = 'node') => new NodeBuilder(name);

/** A ClusterView over standalone NodeInfos, for score tests. */
export function clusterOf(nodes: NodeInfo[]): ClusterView {
  return {
    nodeCount: nodes.length,
    nodesWithImage: (image) => nodes.filter((n) => n.images.has(image)).length,
    podsOfOwner(uid) {
      const counts = new Int32Array(Math.max(0, ...nodes.map((n) => n.slot + 1)));
      let any = false;
      for (const n of nodes) {
        for (const p of n.pods.values()) {
          if (p.ownerUid !== uid) continue;
          counts[n.slot]!++;
          any = true;
        }
      }
      return any ? counts : undefined;
    },
  };
}
