/** `kubectl get rc`: NAME DESIRED CURRENT READY AGE | CONTAINERS IMAGES SELECTOR. */
import { age } from './age.js';
import { ageColumn, column, containerCells, formatLabels, nameColumn, num, optNum, rec, str, strMap, wide } from './format.js';
import type { Printer, TableColumnDefinition } from './types.js';

/** The columns shared by ReplicationControllers and ReplicaSets. */
export function replicaColumns(kind: string): TableColumnDefinition[] {
  return [
    nameColumn(),
    column('Desired', 'integer', `Number of pods the ${kind} wants (spec.replicas).`),
    column('Current', 'integer', 'Number of pods that currently exist (status.replicas).'),
    column('Ready', 'integer', 'Number of ready pods (status.readyReplicas).'),
    ageColumn(),
    wide('Containers', 'string', 'Names of each container in the template.'),
    wide('Images', 'string', 'Images referenced by each container in the template.'),
    wide('Selector', 'string', 'Label query over the pods this controller owns.'),
  ];
}

/** spec.replicas as the API server defaults it (absent means 1). */
export function desiredReplicas(spec: Record<string, unknown>): number {
  return optNum(spec.replicas) ?? 1;
}

export const replicationControllerPrinter: Printer = {
  columns: replicaColumns('ReplicationController'),
  cells(rc, { now }) {
    const spec = rec(rc.spec);
    const status = rec(rc.status);
    const { names, images } = containerCells(rec(rec(spec.template).spec).containers);
    return [
      str(rc.metadata?.name),
      desiredReplicas(spec),
      num(status.replicas),
      num(status.readyReplicas),
      age(rc.metadata?.creationTimestamp, now),
      names,
      images,
      formatLabels(strMap(spec.selector)),
    ];
  },
};
