/**
 * SelectorSpread: pods of one controller (the ownerReference with
 * controller: true — a ReplicaSet, a ReplicationController) spread over nodes,
 * and over zones when nodes carry topology.kubernetes.io/zone: fewer of the
 * owner's pods on a node (bound or assumed) score higher. Zones weigh 2/3, as
 * in kube-scheduler's SelectorSpread.
 */
import { zoneCount } from '../cache/index.js';
import { MAX_NODE_SCORE, type ScorePlugin } from '../framework/index.js';
const ZONE_WEIGHTING = 2 / 3;

export const selectorSpread: ScorePlugin = {
  name: 'SelectorSpread',
  weight: 2,
  skip: (pod) => pod.ownerUid === undefined,
  score(pod, nodes, scores, cluster) {
    const counts = cluster.podsOfOwner(pod.ownerUid!);
    if (!counts) return void scores.fill(0);
    for (let i = 0; i < nodes.length; i++) scores[i] = counts[nodes[i]!.slot] ?? 0;
  },
  normalize(_pod, nodes, scores) {
    let maxNode = 0;
    let zoned = false;
    const inZone = new Float64Array(zoneCount());
    for (let i = 0; i < scores.length; i++) {
      if (scores[i]! > maxNode) maxNode = scores[i]!;
      const z = nodes[i]!.zoneId;
      if (z >= 0) {
        inZone[z]! += scores[i]!;
        zoned = true;
      }
    }
    let maxZone = 0;
    for (const v of inZone) if (v > maxZone) maxZone = v;
    for (let i = 0; i < scores.length; i++) {
      let s = maxNode > 0 ? (MAX_NODE_SCORE * (maxNode - scores[i]!)) / maxNode : MAX_NODE_SCORE;
      const z = nodes[i]!.zoneId;
      if (zoned && z >= 0) {
        const zoneScore = maxZone > 0 ? (MAX_NODE_SCORE * (maxZone - inZone[z]!)) / maxZone : MAX_NODE_SCORE;
        s = s * (1 - ZONE_WEIGHTING) + ZONE_WEIGHTING * zoneScore;
      }
      scores[i] = Math.floor(s);
    }
  },
};
