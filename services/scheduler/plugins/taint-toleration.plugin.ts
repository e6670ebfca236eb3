/**
 * TaintToleration: a node's NoSchedule and NoExecute taints keep off every pod
 * that does not tolerate them; PreferNoSchedule taints only lower the score.
 */
import type { Taint, Toleration } from '../cache/index.js';
import { defaultNormalize, SUCCESS, unresolvable, type FilterPlugin, type ScorePlugin } from '../framework/index.js';

/** Kubernetes' ToleratesTaint: effect (empty = all), key (empty + Exists = all), then value. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (t.operator === 'Exists') return true;
  if (t.operator === 'Equal' || t.operator === '') return t.value === taint.value;
  return false;
}

export function tolerated(tolerations: readonly Toleration[], taint: Taint): boolean {
  for (const t of tolerations) if (toleratesTaint(t, taint)) return true;
  return false;
}

export const taintTolerationFilter: FilterPlugin = {
  name: 'TaintToleration',
  filter(pod, node) {
    for (const taint of node.taints) {
      if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
      if (!tolerated(pod.tolerations, taint)) return unresolvable(`node(s) had untolerated taint {${taint.key}: ${taint.value}}`);
    }
    return SUCCESS;
  },
};

/** Fewer untolerated PreferNoSchedule taints score higher. */
export const taintTolerationScore: ScorePlugin = {
  name: 'TaintToleration',
  weight: 3,
  score(pod, nodes, scores) {
    // Only tolerations for PreferNoSchedule (or every effect) count here.
    const soft = pod.tolerations.filter((t) => t.effect === '' || t.effect === 'PreferNoSchedule');
    for (let i = 0; i < nodes.length; i++) {
      let n = 0;
      for (const taint of nodes[i]!.taints) if (taint.effect === 'PreferNoSchedule' && !tolerated(soft, taint)) n++;
      scores[i] = n;
    }
  },
  normalize: (_pod, _nodes, scores) => defaultNormalize(scores, true),
};
