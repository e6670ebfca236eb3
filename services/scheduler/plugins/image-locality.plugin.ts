/**
 * ImageLocality (data locality): prefer nodes that already hold the pod's
 * images, by their size, scaled down by how few nodes hold them (an image on
 * every node says nothing) — kube-scheduler's thresholds: below 23 MB scores 0,
 * 1,000 MB per container scores 100.
 */
import { MAX_NODE_SCORE, type ScorePlugin } from '../framework/index.js';

const MB = 1024 * 1024;
const MIN_THRESHOLD = 23 * MB;
const MAX_CONTAINER_THRESHOLD = 1000 * MB;

export const imageLocality: ScorePlugin = {
  name: 'ImageLocality',
  weight: 1,
  skip: (pod) => pod.images.length === 0,
  score(pod, nodes, scores, cluster) {
    // How widely each image is spread is the same for every node.
    const spread = pod.images.map((image) => cluster.nodesWithImage(image) / Math.max(1, cluster.nodeCount));
    const max = MAX_CONTAINER_THRESHOLD * Math.max(1, pod.containerCount);
    for (let i = 0; i < nodes.length; i++) {
      const images = nodes[i]!.images;
      let sum = 0;
      for (let j = 0; j < pod.images.length; j++) {
        const size = images.get(pod.images[j]!);
        if (size !== undefined) sum += Math.floor(size * spread[j]!);
      }
      const clamped = Math.min(max, Math.max(MIN_THRESHOLD, sum));
      scores[i] = Math.floor((MAX_NODE_SCORE * (clamped - MIN_THRESHOLD)) / (max - MIN_THRESHOLD));
    }
  },
};
