/**
 * NodeResourcesFit: the pod's requests must fit in what the node has left —
 * allocatable minus what its pods (bound and assumed) request — and the node
 * must have room for one more pod. Every shortfall is a reason, as
 * kube-scheduler reports them ("Insufficient cpu", "Too many pods").
 */
import { SUCCESS, unschedulable, type FilterPlugin, type Status } from '../framework/index.js';

/** Shared statuses for the common single-reason rejections (no allocation per node). */
const SINGLE = new Map<string, Status>();
function rejected(reasons: string[]): Status {
  if (reasons.length > 1) return unschedulable(...reasons);
  let s = SINGLE.get(reasons[0]!);
  if (!s) SINGLE.set(reasons[0]!, (s = unschedulable(reasons[0]!)));
  return s;
}

export const nodeResourcesFit: FilterPlugin = {
  name: 'NodeResourcesFit',
  filter(pod, node) {
    const r = pod.requests;
    // The common case first, without building anything: everything fits.
    const tooMany = node.podCount + 1 > node.allocatablePods;
    const cpu = r.milliCpu > 0 && r.milliCpu > node.allocatableMilliCpu - node.requestedMilliCpu;
    const memory = r.memory > 0 && r.memory > node.allocatableMemory - node.requestedMemory;
    if (!tooMany && !cpu && !memory && r.other === undefined) return SUCCESS;
    const reasons: string[] = [];
    if (tooMany) reasons.push('Too many pods');
    if (cpu) reasons.push('Insufficient cpu');
    if (memory) reasons.push('Insufficient memory');
    if (r.other) {
      for (const [name, want] of r.other) {
        if (want > 0 && want > (node.allocatableOther.get(name) ?? 0) - (node.requestedOther.get(name) ?? 0)) reasons.push(`Insufficient ${name}`);
      }
    }
    return reasons.length ? rejected(reasons) : SUCCESS;
  },
};
