/** Roles show as kubectl prints them: NAME, CREATED AT; bindings: NAME, ROLE, AGE (and USERS, GROUPS wide). */
import { age } from './age.js';
import { ageColumn, column, nameColumn, rec, str, wide } from './format.js';
import type { Printer } from './types.js';
import type { Subject } from '../authz/rbac.js';

export const rolePrinter: Printer = {
  columns: [nameColumn(), column('Created At', 'date', 'When the role was made.')],
  cells(role) {
    return [str(role.metadata?.name), str(role.metadata?.creationTimestamp)];
  },
};


export const bindingPrinter: Printer = {
  columns: [
    nameColumn(),
    column('Role', 'string', 'The role the binding grants.'),
    ageColumn(),
    wide('Users', 'string', 'The users the binding names.'),
    wide('Groups', 'string', 'The groups the binding names.'),
  ],
  cells(binding, { now }) {
    const ref = rec(binding.roleRef);
    const subjects = (binding.subjects as Subject[] | undefined) ?? [];
    const names = (kind: string) => subjects.filter((s) => s.kind === kind).map((s) => s.name).join(', ');
    return [str(binding.metadata?.name), `${str(ref.kind)}/${str(ref.name)}`, age(binding.metadata?.creationTimestamp, now), names('User'), names('Group')];
  },
};
