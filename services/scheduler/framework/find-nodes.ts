/**
 * One scheduling decision: filter the nodes — only until enough feasible ones
 * are found (kube-scheduler's percentageOfNodesToScore), starting where the
 * previous pod stopped so that every node gets its turn — then score the
 * feasible ones, normalize, weigh, sum, and pick the best (ties at random).
 */
import type { NodeInfo, PodInfo } from '../cache/index.js';
import { fitErrorMessage } from './fit-error.js';
import { Code, type ClusterView, type FilterPlugin, type Profile, type ScorePlugin } from './types.js';

/** Fewer nodes than this are all examined. */
export const MIN_FEASIBLE_NODES_TO_FIND = 100;
/** The adaptive percentage never drops below this. */
export const MIN_FEASIBLE_NODES_PERCENTAGE = 5;

/**
 * How many feasible nodes to look for among `numAllNodes`: all of them below
 * 100; else `percentage` of them (adaptive when 0/undefined: 50 − nodes/125,
 * at least 5 %), but never fewer than 100. kube-scheduler's numFeasibleNodesToFind.
 */
export function numFeasibleNodesToFind(percentage: number | undefined, numAllNodes: number): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND) return numAllNodes;
  let p = percentage ?? 0;
  if (p <= 0) p = Math.max(MIN_FEASIBLE_NODES_PERCENTAGE, 50 - Math.trunc(numAllNodes / 125));
  if (p >= 100) return numAllNodes;
  return Math.max(MIN_FEASIBLE_NODES_TO_FIND, Math.trunc((numAllNodes * p) / 100));
}

export type ScheduleResult =
  | {
      kind: 'scheduled';
      node: NodeInfo;
      /** Nodes the filters looked at, and how many of those passed. */
      evaluated: number;
      feasible: number;
    }
  | {
      kind: 'unschedulable';
      /** The FailedScheduling message. */
      message: string;
      /** Plugins that rejected at least one node: a change they care about may help the pod. */
      plugins: Set<string>;
    };

export type FrameworkOptions = {
  /** 0 or undefined: adaptive, as kube-scheduler's default. */
  percentageOfNodesToScore?: number;
  /** For tests: a deterministic tie-break. */
  random?: () => number;
};

export class Framework {
  private nextStartNodeIndex = 0;
  /** Score buffers, reused from pod to pod (a pod's scores are done with before the next). */
  private totals = new Float64Array(256);
  private scratch = new Float64Array(256);

  constructor(
    private readonly profile: Profile,
    private readonly opts: FrameworkOptions = {},
  ) {}

  schedule(pod: PodInfo, nodes: readonly NodeInfo[], cluster: ClusterView): ScheduleResult {
    const all = nodes.length;
    if (all === 0) return { kind: 'unschedulable', message: fitErrorMessage(0, new Map()), plugins: new Set() };
    const filters = this.profile.filters.filter((f) => !f.skip?.(pod));
    const want = numFeasibleNodesToFind(this.opts.percentageOfNodesToScore, all);
    const feasible: NodeInfo[] = [];
    const reasons = new Map<string, number>();
    const plugins = new Set<string>();
    let processed = 0;
    const start = this.nextStartNodeIndex % all;
    while (processed < all && feasible.length < want) {
      const node = nodes[(start + processed) % all]!;
      processed++;
      const rejectedBy = runFilters(filters, pod, node);
      if (!rejectedBy) {
        feasible.push(node);
        continue;
      }
      const [plugin, status] = rejectedBy;
      plugins.add(plugin);
      for (const r of status.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1);
    }
    this.nextStartNodeIndex = (start + processed) % all;
    if (feasible.length === 0) return { kind: 'unschedulable', message: fitErrorMessage(all, reasons), plugins };
    const node = feasible.length === 1 ? feasible[0]! : this.pick(pod, feasible, cluster);
    return { kind: 'scheduled', node, evaluated: processed, feasible: feasible.length };
  }

  /** Weighted sum of the normalized scores; the best node, ties broken at random (reservoir sampling). */
  private pick(pod: PodInfo, feasible: NodeInfo[], cluster: ClusterView): NodeInfo {
    if (this.totals.length < feasible.length) {
      this.totals = new Float64Array(feasible.length * 2);
      this.scratch = new Float64Array(feasible.length * 2);
    }
    const total = this.totals.subarray(0, feasible.length);
    scoreNodes(this.profile.scores, pod, feasible, cluster, total, this.scratch.subarray(0, feasible.length));
    const random = this.opts.random ?? Math.random;
    let best = 0;
    let ties = 1;
    for (let i = 1; i < total.length; i++) {
      if (total[i]! > total[best]!) {
        best = i;
        ties = 1;
      } else if (total[i] === total[best]) {
        ties++;
        if (Math.floor(random() * ties) === 0) best = i;
      }
    }
    return feasible[best]!;
  }
}

/** The first filter that rejects the node, with its status; undefined when all pass. */
export function runFilters(filters: readonly FilterPlugin[], pod: PodInfo, node: NodeInfo): [string, { code: Code; reasons: readonly string[] }] | undefined {
  for (const f of filters) {
    const s = f.filter(pod, node);
    if (s.code !== Code.Success) return [f.name, s];
  }
  return undefined;
}

/**
 * Per node (in `nodes` order): Σ weight × normalized score over the plugins
 * that apply to the pod, into `total`; `scores` is scratch space of the same length.
 */
export function scoreNodes(
  plugins: readonly ScorePlugin[],
  pod: PodInfo,
  nodes: readonly NodeInfo[],
  cluster: ClusterView,
  total = new Float64Array(nodes.length),
  scores = new Float64Array(nodes.length),
): Float64Array {
  total.fill(0);
  for (const p of plugins) {
    if (p.skip?.(pod)) continue;
    p.score(pod, nodes, scores, cluster);
    p.normalize?.(pod, nodes, scores);
    for (let i = 0; i < nodes.length; i++) total[i] += p.weight * scores[i]!;
  }
  return total;
}
