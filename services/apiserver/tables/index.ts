/**
 * Server-side Table output (`meta.k8s.io/v1 Table`) for `kubectl get`: one printer per
 * kind, a NAME/AGE fallback for everything else.
 *
 * Like the Kubernetes API server, every row carries all columns, wide ones included;
 * kubectl hides `priority: 1` columns unless `-o wide` is asked for.
 */
import { groupVersion, type KObject, type ResourceInfo } from '../../lib/api/resources.js';
import { defaultPrinter } from './default.table.js';
import { deploymentPrinter } from './deployments.table.js';
import { endpointsPrinter } from './endpoints.table.js';
import { eventPrinter } from './events.table.js';
import { leasePrinter } from './leases.table.js';
import { bindingPrinter, rolePrinter } from './rbac.table.js';
import { namespacePrinter } from './namespaces.table.js';
import { nodePrinter } from './nodes.table.js';
import { podPrinter } from './pods.table.js';
import { replicaSetPrinter } from './replicasets.table.js';
import { replicationControllerPrinter } from './replicationcontrollers.table.js';
import { servicePrinter } from './services.table.js';
import type { IncludeObject, PartialObjectMetadata, Printer, Table, TableRow } from './types.js';

export type {
  IncludeObject,
  PartialObjectMetadata,
  PrintContext,
  Printer,
  Table,
  TableCell,
  TableColumnDefinition,
  TableRow,
  TableRowCondition,
} from './types.js';
export { age, humanDuration } from './age.js';

export type ToTableOptions = {
  /** The list's (or object's) resourceVersion, copied into the Table's metadata. */
  resourceVersion: string;
  /** The continue token of a chunked list, if more items remain. */
  continue?: string;
  /** What each row's `object` holds; default `Metadata`. */
  includeObject?: IncludeObject;
  /** The instant ages are measured against; default the current time. */
  now?: Date;
};

/** Printers by `group/Kind` (core group: `/Kind`), so a CRD reusing a kind name is not confused. */
const PRINTERS = new Map<string, Printer>([
  ['/Pod', podPrinter],
  ['/Node', nodePrinter],
  ['/Service', servicePrinter],
  ['/Endpoints', endpointsPrinter],
  ['/ReplicationController', replicationControllerPrinter],
  ['/Event', eventPrinter],
  ['/Namespace', namespacePrinter],
  ['apps/ReplicaSet', replicaSetPrinter],
  ['apps/Deployment', deploymentPrinter],
  ['coordination.k8s.io/Lease', leasePrinter],
  ['rbac.authorization.k8s.io/Role', rolePrinter],
  ['rbac.authorization.k8s.io/ClusterRole', rolePrinter],
  ['rbac.authorization.k8s.io/RoleBinding', bindingPrinter],
  ['rbac.authorization.k8s.io/ClusterRoleBinding', bindingPrinter],
]);

/** The printer for a resource; the NAME/AGE fallback when the kind has none. */
export function printerFor(resource: Pick<ResourceInfo, 'group' | 'kind'>): Printer {
  return PRINTERS.get(`${resource.group}/${resource.kind}`) ?? defaultPrinter;
}

function rowObject(
  resource: ResourceInfo,
  obj: KObject,
  include: IncludeObject,
): PartialObjectMetadata | KObject | undefined {
  switch (include) {
    case 'None':
      return undefined;
    case 'Object':
      return { ...obj, apiVersion: obj.apiVersion ?? groupVersion(resource), kind: obj.kind ?? resource.kind };
    case 'Metadata':
    default:
      return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata ?? {} };
  }
}

/** Renders objects of one resource as a `meta.k8s.io/v1` Table. */
export function toTable(resource: ResourceInfo, objects: KObject[], opts: ToTableOptions): Table {
  const printer = printerFor(resource);
  const include = opts.includeObject ?? 'Metadata';
  const ctx = { now: opts.now ?? new Date() };
  const rows = objects.map((obj): TableRow => {
    const row: TableRow = { cells: printer.cells(obj, ctx) };
    const conditions = printer.conditions?.(obj);
    if (conditions && conditions.length > 0) row.conditions = conditions;
    const object = rowObject(resource, obj, include);
    if (object !== undefined) row.object = object;
    return row;
  });
  const metadata: Table['metadata'] = { resourceVersion: opts.resourceVersion };
  if (opts.continue) metadata.continue = opts.continue;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: printer.columns.map((c) => ({ ...c })),
    rows,
  };
}
