/** `kubectl get deployments`: NAME READY UP-TO-DATE AVAILABLE AGE | CONTAINERS IMAGES SELECTOR. */
import { age } from './age.js';
import { ageColumn, column, containerCells, labelSelectorString, nameColumn, num, rec, str, wide } from './format.js';
import { desiredReplicas } from './replicationcontrollers.table.js';
import type { Printer } from './types.js';

export const deploymentPrinter: Printer = {
  columns: [
    nameColumn(),
    column('Ready', 'string', 'Ready pods out of desired pods.'),
    column('Up-to-date', 'integer', 'Pods that run the latest pod template (status.updatedReplicas).'),
    column('Available', 'integer', 'Pods available to serve (status.availableReplicas).'),
    ageColumn(),
    wide('Containers', 'string', 'Names of each container in the template.'),
    wide('Images', 'string', 'Images referenced by each container in the template.'),
    wide('Selector', 'string', 'Label query over the pods this deployment manages.'),
  ],
  cells(d, { now }) {
    const spec = rec(d.spec);
    const status = rec(d.status);
    const { names, images } = containerCells(rec(rec(spec.template).spec).containers);
    return [
      str(d.metadata?.name),
      `${num(status.readyReplicas)}/${desiredReplicas(spec)}`,
      num(status.updatedReplicas),
      num(status.availableReplicas),
      age(d.metadata?.creationTimestamp, now),
      names,
      images,
      // kubectl prints the selector as is here: '' rather than <none>.
      labelSelectorString(spec.selector) ?? '<invalid>',
    ];
  },
};
