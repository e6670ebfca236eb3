/**
 * NodeAffinity: nodeSelector and required node affinity filter; the preferred
 * terms score, by the sum of the weights of the terms a node matches.
 */
import { defaultNormalize, SUCCESS, unresolvable, type FilterPlugin, type ScorePlugin } from '../framework/index.js';

export const ERR_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";
const REJECTED = unresolvable(ERR_NODE_AFFINITY);

export const nodeAffinityFilter: FilterPlugin = {
  name: 'NodeAffinity',
  skip: (pod) => pod.requiredNodeMatch === undefined,
  filter: (pod, node) => (pod.requiredNodeMatch!(node) ? SUCCESS : REJECTED),
};

export const nodeAffinityScore: ScorePlugin = {
  name: 'NodeAffinity',
  weight: 2,
  skip: (pod) => pod.preferredNodeTerms.length === 0,
  score(pod, nodes, scores) {
    const terms = pod.preferredNodeTerms;
    for (let i = 0; i < nodes.length; i++) {
      let sum = 0;
      for (const t of terms) if (t.matches(nodes[i]!)) sum += t.weight;
      scores[i] = sum;
    }
  },
  normalize: (_pod, _nodes, scores) => defaultNormalize(scores, false),
};
