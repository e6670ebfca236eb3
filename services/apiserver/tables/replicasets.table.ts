/** `kubectl get rs`: NAME DESIRED CURRENT READY AGE | CONTAINERS IMAGES SELECTOR. */
import { age } from './age.js';
import { containerCells, formatLabelSelector, num, rec, str } from './format.js';
import { desiredReplicas, replicaColumns } from './replicationcontrollers.table.js';
import type { Printer } from './types.js';

export const replicaSetPrinter: Printer = {
  columns: replicaColumns('ReplicaSet'),
  cells(rs, { now }) {
    const spec = rec(rs.spec);
    const status = rec(rs.status);
    const { names, images } = containerCells(rec(rec(spec.template).spec).containers);
    return [
      str(rs.metadata?.name),
      desiredReplicas(spec),
      num(status.replicas),
      num(status.readyReplicas),
      age(rs.metadata?.creationTimestamp, now),
      names,
      images,
      formatLabelSelector(spec.selector),
    ];
  },
};
