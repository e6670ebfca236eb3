/**
 * The FailedScheduling message, worded and ordered as kube-scheduler's FitError:
 * "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) were unschedulable."
 * — each reason counted over the nodes that gave it, the "count reason" strings
 * sorted as strings (so "10 …" comes before "2 …", as in Go's sort.Strings).
 */

export const ERR_NO_NODES = 'no nodes available to schedule pods';

export function fitErrorMessage(numAllNodes: number, reasons: ReadonlyMap<string, number>): string {
  if (numAllNodes === 0) return ERR_NO_NODES;
  const counted = [...reasons].map(([reason, n]) => `${n} ${reason}`).sort();
  return counted.length ? `0/${numAllNodes} nodes are available: ${counted.join(', ')}.` : `0/${numAllNodes} nodes are available.`;
}
