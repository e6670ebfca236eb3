/** NodeUnschedulable: a cordoned node (spec.unschedulable) takes no new pods, unless they tolerate it. */
import { SUCCESS, unresolvable, type FilterPlugin } from '../framework/index.js';
import { tolerated } from './taint-toleration.plugin.js';

export const ERR_UNSCHEDULABLE = 'node(s) were unschedulable';
const REJECTED = unresolvable(ERR_UNSCHEDULABLE);
const CORDON_TAINT = { key: 'node.kubernetes.io/unschedulable', value: '', effect: 'NoSchedule' };

export const nodeUnschedulable: FilterPlugin = {
  name: 'NodeUnschedulable',
  filter: (pod, node) => (!node.unschedulable || tolerated(pod.tolerations, CORDON_TAINT) ? SUCCESS : REJECTED),
};
