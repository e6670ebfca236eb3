/** `kubectl get nodes`: NAME STATUS ROLES AGE VERSION | INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME. */
import type { KObject } from '../../lib/api/resources.js';
import { age } from './age.js';
import { ageColumn, arr, column, nameColumn, rec, str, strMap, wide } from './format.js';
import type { Printer } from './types.js';

const ROLE_PREFIX = 'node-role.kubernetes.io/';
const LEGACY_ROLE_LABEL = 'kubernetes.io/role';

/** `Ready`, `NotReady` or `Unknown`, plus `SchedulingDisabled` for a cordoned node. */
export function nodeStatus(node: KObject): string {
  const parts: string[] = [];
  const ready = arr(rec(node.status).conditions)
    .map(rec)
    .find((c) => c.type === 'Ready');
  if (ready) parts.push(ready.status === 'True' ? 'Ready' : 'NotReady');
  else parts.push('Unknown');
  if (rec(node.spec).unschedulable === true) parts.push('SchedulingDisabled');
  return parts.join(',');
}

/** Sorted role names from `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels. */
export function nodeRoles(node: KObject): string[] {
  const roles = new Set<string>();
  for (const [key, value] of Object.entries(strMap(node.metadata?.labels))) {
    if (key.startsWith(ROLE_PREFIX)) {
      const role = key.slice(ROLE_PREFIX.length);
      if (role) roles.add(role);
    } else if (key === LEGACY_ROLE_LABEL && value) {
      roles.add(value);
    }
  }
  return [...roles].sort();
}

function address(node: KObject, type: string): string {
  const hit = arr(rec(node.status).addresses)
    .map(rec)
    .find((a) => a.type === type);
  return str(hit?.address) || '<none>';
}

export const nodePrinter: Printer = {
  columns: [
    nameColumn(),
    column('Status', 'string', 'The status of the node.'),
    column('Roles', 'string', 'The roles of the node.'),
    ageColumn(),
    column('Version', 'string', 'Kubelet version reported by the node.'),
    wide('Internal-IP', 'string', 'The first InternalIP address of the node.'),
    wide('External-IP', 'string', 'The first ExternalIP address of the node.'),
    wide('OS-Image', 'string', 'OS image reported by the node.'),
    wide('Kernel-Version', 'string', 'Kernel version reported by the node.'),
    wide('Container-Runtime', 'string', 'Container runtime version reported by the node.'),
  ],
  cells(node, { now }) {
    const info = rec(rec(node.status).nodeInfo);
    const roles = nodeRoles(node);
    return [
      str(node.metadata?.name),
      nodeStatus(node),
      roles.length > 0 ? roles.join(',') : '<none>',
      age(node.metadata?.creationTimestamp, now),
      str(info.kubeletVersion),
      address(node, 'InternalIP'),
      address(node, 'ExternalIP'),
      str(info.osImage) || '<unknown>',
      str(info.kernelVersion) || '<unknown>',
      str(info.containerRuntimeVersion) || '<unknown>',
    ];
  },
};
