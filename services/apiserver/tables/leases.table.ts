/** `kubectl get leases`: NAME HOLDER AGE. */
import { age } from './age.js';
import { ageColumn, column, nameColumn, rec, str } from './format.js';
import type { Printer } from './types.js';

export const leasePrinter: Printer = {
  columns: [nameColumn(), column('Holder', 'string', 'The identity of the current holder of the lease.'), ageColumn()],
  cells(lease, { now }) {
    return [str(lease.metadata?.name), str(rec(lease.spec).holderIdentity), age(lease.metadata?.creationTimestamp, now)];
  },
};
