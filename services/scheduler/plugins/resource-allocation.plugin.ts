/**
 * The load scores of NodeResourcesFit and NodeResourcesBalancedAllocation:
 * prefer the node with the most cpu and memory left (least allocated), and the
 * node whose cpu and memory would be used in the most equal proportion
 * (balanced), each counting this pod as if already there.
 */
import { MAX_NODE_SCORE, type ScorePlugin } from '../framework/index.js';

function leastRequested(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.floor(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

/** Kubernetes' LeastAllocated strategy, cpu and memory weighted 1 each, on non-zero requests. */
export const leastAllocated: ScorePlugin = {
  name: 'NodeResourcesLeastAllocated',
  weight: 1,
  score(pod, nodes, scores) {
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      let sum = 0;
      let weights = 0;
      if (node.allocatableMilliCpu > 0) {
        sum += leastRequested(node.nonZeroMilliCpu + pod.nonZeroMilliCpu, node.allocatableMilliCpu);
        weights++;
      }
      if (node.allocatableMemory > 0) {
        sum += leastRequested(node.nonZeroMemory + pod.nonZeroMemory, node.allocatableMemory);
        weights++;
      }
      scores[i] = weights ? Math.floor(sum / weights) : 0;
    }
  },
};

/** (1 − standard deviation of the cpu and memory fractions) × 100; a pod that requests nothing is skipped. */
export const balancedAllocation: ScorePlugin = {
  name: 'NodeResourcesBalancedAllocation',
  weight: 1,
  skip: (pod) => pod.requests.milliCpu === 0 && pod.requests.memory === 0,
  score(pod, nodes, scores) {
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      const allocCpu = node.allocatableMilliCpu;
      const allocMemory = node.allocatableMemory;
      const cpu = allocCpu > 0 ? Math.min(1, (node.requestedMilliCpu + pod.requests.milliCpu) / allocCpu) : -1;
      const memory = allocMemory > 0 ? Math.min(1, (node.requestedMemory + pod.requests.memory) / allocMemory) : -1;
      // With one of the two unknown there is nothing to balance.
      const std = cpu >= 0 && memory >= 0 ? Math.abs(cpu - memory) / 2 : 0;
      scores[i] = Math.floor((1 - std) * MAX_NODE_SCORE);
    }
  },
};
