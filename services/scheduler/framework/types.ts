/**
 * The scheduling framework's vocabulary, as in kube-scheduler: a plugin
 * `filter`s a node (a Status value, never an exception, for an expected
 * rejection), `score`s the nodes that passed, and may `normalize` those scores
 * to 0..100 before they are weighted and summed.
 */
import type { NodeInfo, PodInfo } from '../cache/index.js';

/** The highest score a plugin gives a node (kube-scheduler's MaxNodeScore). */
export const MAX_NODE_SCORE = 100;

/**
 * What a filter says about a node. `Unschedulable`: the pod does not fit now,
 * but could once something changes on the node (pods leave); preemption could
 * help. `UnschedulableAndUnresolvable`: nothing short of changing the node or
 * the pod helps (a selector, a taint). `Error`: the plugin itself failed.
 */
export const Code = {
  Success: 'Success',
  Unschedulable: 'Unschedulable',
  UnschedulableAndUnresolvable: 'UnschedulableAndUnresolvable',
  Error: 'Error',
} as const;
export type Code = (typeof Code)[keyof typeof Code];

export type Status = {
  readonly code: Code;
  /** Kubernetes' wording, counted across nodes in the FailedScheduling message. */
  readonly reasons: readonly string[];
};

/** The one success value: filters return it without allocating. */
export const SUCCESS: Status = Object.freeze({ code: Code.Success, reasons: Object.freeze([]) as readonly string[] });

export function unschedulable(...reasons: string[]): Status {
  return { code: Code.Unschedulable, reasons };
}

export function unresolvable(...reasons: string[]): Status {
  return { code: Code.UnschedulableAndUnresolvable, reasons };
}

/** What plugins may read about the whole cluster while scoring. */
export type ClusterView = {
  /** Nodes in the cache (all of them, not only the feasible ones). */
  readonly nodeCount: number;
  /** How many nodes hold an image (normalized name). */
  nodesWithImage(image: string): number;
  /**
   * Pods of this controller owner per node (bound or assumed), indexed by
   * `NodeInfo.slot` (past the end: none); undefined when it has none at all.
   */
  podsOfOwner(ownerUid: string): Int32Array | undefined;
};

export type FilterPlugin = {
  readonly name: string;
  /** True when this plugin has nothing to check for the pod (PreFilter's Skip). */
  skip?(pod: PodInfo): boolean;
  filter(pod: PodInfo, node: NodeInfo): Status;
};

export type ScorePlugin = {
  readonly name: string;
  /** Multiplies the normalized score. */
  readonly weight: number;
  /** True when the plugin would give every node the same score (PreScore's Skip). */
  skip?(pod: PodInfo): boolean;
  /**
   * Scores every feasible node into `scores` (in `nodes` order): all at once
   * rather than a call per node, so that what depends only on the pod is
   * worked out once — a pod meets hundreds of nodes.
   */
  score(pod: PodInfo, nodes: readonly NodeInfo[], scores: Float64Array, cluster: ClusterView): void;
  /** Rescales `scores` (one per feasible node, in `nodes` order) to 0..MAX_NODE_SCORE in place. */
  normalize?(pod: PodInfo, nodes: readonly NodeInfo[], scores: Float64Array): void;
};

/** The plugins of one scheduler profile, filters in the order they run. */
export type Profile = {
  filters: readonly FilterPlugin[];
  scores: readonly ScorePlugin[];
};

/**
 * kube-scheduler's DefaultNormalizeScore: scales to 0..MAX_NODE_SCORE by the
 * highest score; `reverse` makes the lowest raw score the best.
 */
export function defaultNormalize(scores: Float64Array, reverse: boolean): void {
  let max = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
  if (max === 0) {
    if (reverse) scores.fill(MAX_NODE_SCORE);
    return;
  }
  for (let i = 0; i < scores.length; i++) {
    const s = Math.floor((MAX_NODE_SCORE * scores[i]!) / max);
    scores[i] = reverse ? MAX_NODE_SCORE - s : s;
  }
}
