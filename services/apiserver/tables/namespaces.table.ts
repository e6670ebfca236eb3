/** `kubectl get namespaces`: NAME STATUS AGE. */
import { age } from './age.js';
import { ageColumn, column, nameColumn, rec, str } from './format.js';
import type { Printer } from './types.js';

export const namespacePrinter: Printer = {
  columns: [nameColumn(), column('Status', 'string', 'The phase of the namespace: Active or Terminating.'), ageColumn()],
  cells(ns, { now }) {
    // The API server defaults status.phase to Active on create.
    const phase = str(rec(ns.status).phase) || 'Active';
    return [str(ns.metadata?.name), phase, age(ns.metadata?.creationTimestamp, now)];
  },
};
