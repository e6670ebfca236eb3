/**
 * The default profile: the filters in the order kube-scheduler runs them (the
 * first that rejects a node gives its reason), and the scores with their weights.
 */
import type { Profile } from '../framework/index.js';
import { imageLocality } from './image-locality.plugin.js';
import { nodeAffinityFilter, nodeAffinityScore } from './node-affinity.plugin.js';
import { nodeName } from './node-name.plugin.js';
import { nodePorts } from './node-ports.plugin.js';
import { nodeReady } from './node-ready.plugin.js';
import { nodeResourcesFit } from './node-resources-fit.plugin.js';
import { nodeUnschedulable } from './node-unschedulable.plugin.js';
import { balancedAllocation, leastAllocated } from './resource-allocation.plugin.js';
import { selectorSpread } from './selector-spread.plugin.js';
import { taintTolerationFilter, taintTolerationScore } from './taint-toleration.plugin.js';

export function defaultProfile(): Profile {
  return {
    filters: [nodeUnschedulable, nodeName, nodeReady, taintTolerationFilter, nodeAffinityFilter, nodePorts, nodeResourcesFit],
    scores: [taintTolerationScore, nodeAffinityScore, leastAllocated, balancedAllocation, imageLocality, selectorSpread],
  };
}

export { imageLocality } from './image-locality.plugin.js';
export { ERR_NODE_AFFINITY, nodeAffinityFilter, nodeAffinityScore } from './node-affinity.plugin.js';
export { ERR_NODE_NAME, nodeName } from './node-name.plugin.js';
export { ERR_NODE_PORTS, nodePorts } from './node-ports.plugin.js';
export { ERR_NOT_READY, nodeReady } from './node-ready.plugin.js';
export { nodeResourcesFit } from './node-resources-fit.plugin.js';
export { ERR_UNSCHEDULABLE, nodeUnschedulable } from './node-unschedulable.plugin.js';
export { balancedAllocation, leastAllocated } from './resource-allocation.plugin.js';
export { selectorSpread } from './selector-spread.plugin.js';
export { taintTolerationFilter, taintTolerationScore, toleratesTaint } from './taint-toleration.plugin.js';
