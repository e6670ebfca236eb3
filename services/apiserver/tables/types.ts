/**
 * The `meta.k8s.io/v1` Table shapes the API server returns for
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, and the printer contract
 * each kind implements.
 */
import type { KObject, ObjectMeta } from '../../lib/api/resources.js';

/** What a cell may hold once serialised to JSON. */
export type TableCell = string | number | boolean | null;

export type TableColumnDefinition = {
  /** Title-cased header (`Name`, `Nominated Node`); kubectl upper-cases it. */
  name: string;
  /** OpenAPI type: `string`, `integer`, `number`, `boolean` or `date`. */
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  /** OpenAPI format hint; `name` marks the object's name column, otherwise ''. */
  format: string;
  description: string;
  /** 0 = always shown; 1 = only with `-o wide`. */
  priority: number;
};

export type TableRowCondition = {
  type: 'Completed';
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
};

export type PartialObjectMetadata = {
  kind: 'PartialObjectMetadata';
  apiVersion: 'meta.k8s.io/v1';
  metadata: ObjectMeta;
};

export type TableRow = {
  cells: TableCell[];
  conditions?: TableRowCondition[];
  /** Present unless `includeObject=None`. */
  object?: PartialObjectMetadata | KObject;
};

export type Table = {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion: string; continue?: string };
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
};

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Per-request facts a printer may need. */
export type PrintContext = {
  /** The instant ages are measured against. */
  now: Date;
};

/**
 * Renders one kind. The server always emits every column (wide ones included);
 * kubectl drops `priority: 1` columns unless asked for `-o wide`, so `cells` must
 * return exactly one value per entry of `columns`, in the same order.
 */
export type Printer = {
  columns: readonly TableColumnDefinition[];
  cells(obj: KObject, ctx: PrintContext): TableCell[];
  conditions?(obj: KObject): TableRowCondition[] | undefined;
};
