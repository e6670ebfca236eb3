/**
 * NodeReady: a node whose Ready condition is not True takes no new pods, unless
 * they tolerate the taint Kubernetes' node lifecycle controller would put on it
 * (not-ready for False, unreachable for Unknown), as DaemonSet pods do. Keelson
 * checks the condition itself, so that a node going NotReady is avoided at once,
 * before any controller has tainted it.
 */
import { SUCCESS, unresolvable, type FilterPlugin } from '../framework/index.js';
import { tolerated } from './taint-toleration.plugin.js';

export const ERR_NOT_READY = 'node(s) were not ready';
const REJECTED = unresolvable(ERR_NOT_READY);
const NOT_READY = { key: 'node.kubernetes.io/not-ready', value: '', effect: 'NoSchedule' };
const UNREACHABLE = { key: 'node.kubernetes.io/unreachable', value: '', effect: 'NoSchedule' };

export const nodeReady: FilterPlugin = {
  name: 'NodeReady',
  filter(pod, node) {
    if (node.ready === 'True') return SUCCESS;
    return tolerated(pod.tolerations, node.ready === 'False' ? NOT_READY : UNREACHABLE) ? SUCCESS : REJECTED;
  },
};
