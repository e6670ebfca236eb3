/** The fallback for any kind without its own printer: NAME AGE. */
import { age } from './age.js';
import { ageColumn, nameColumn, str } from './format.js';
import type { Printer } from './types.js';

export const defaultPrinter: Printer = {
  columns: [nameColumn(), ageColumn()],
  cells(obj, { now }) {
    return [str(obj.metadata?.name), age(obj.metadata?.creationTimestamp, now)];
  },
};
