/**
 * The iptables-restore input (for `--noflush`) that takes the tables from what is
 * there (`SavedState`) to what is wanted, pure. Declaring a chain flushes only that
 * chain, so every own chain is declared and rewritten whole; own chains no longer
 * wanted are flushed and deleted in the same restore; jumps are inserted when
 * missing and removed when outdated or doubled. Nothing else is named, so nothing
 * else changes. A stale chain that someone else's rule still jumps to is only
 * flushed (deleting it would fail the whole restore) and reported in `kept`.
 */
import { chainNames, type ChainNames } from './chain-names.js';
import { isOwnJump, jumpsOf, sameRule, type Jump, type TableName } from './jumps.js';
import type { RuleOptions } from './options.js';
import { buildRules, type PortRules, type RuleSet, type TableRules } from './rules.js';
import { emptyTable, type SavedState, type SavedTable } from './saved-state.js';
import type { ServicePort } from '../types.js';

export type RestorePlan = {
  /** Empty when there is nothing to do. */
  text: string;
  /** Own chains deleted by this restore, `table/chain`. */
  deleted: string[];
  /** Own chains flushed but not deleted: a rule the backend did not make still jumps to them. */
  kept: string[];
  jumpsAdded: number;
  jumpsRemoved: number;
};

const TABLES: TableName[] = ['nat', 'filter'];

/**
 * The whole generation in one pure call: service ports + options (+ what is there,
 * default nothing) → iptables-restore input for nat and filter, and the notes on
 * ports left out.
 */
export function generateRestore(ports: readonly ServicePort[], options: RuleOptions, saved: SavedState = noRules()): RestorePlan & { rules: RuleSet } {
  const rules = buildRules(ports, options);
  return { ...syncRestore(rules, saved, chainNames(options.prefix)), rules };
}

/** A state with no rules at all (a fresh network namespace). */
export function noRules(): SavedState {
  return { nat: emptyTable(), filter: emptyTable() };
}

/** Restore input that makes the own chains exactly `rules` and puts the jumps in place. */
export function syncRestore(rules: RuleSet, saved: SavedState, names: ChainNames): RestorePlan {
  const plan = emptyPlan();
  const jumps = jumpsOf(names);
  const sections = TABLES.map((t) => syncSection(t, rules[t], saved[t], jumps.filter((j) => j.table === t), names, plan));
  plan.text = sections.join('');
  return plan;
}

/** Restore input that removes the jumps and deletes every own chain; empty if there is none. */
export function stopRestore(saved: SavedState, names: ChainNames): RestorePlan {
  const plan = emptyPlan();
  const sections = TABLES.map((t) => syncSection(t, { chains: [], rules: [] }, saved[t], [], names, plan));
  plan.text = sections.join('');
  return plan;
}

function emptyPlan(): RestorePlan {
  return { text: '', deleted: [], kept: [], jumpsAdded: 0, jumpsRemoved: 0 };
}

function syncSection(table: TableName, want: TableRules, have: SavedTable, jumps: Jump[], names: ChainNames, plan: RestorePlan): string {
  const own = have.rules.filter((r) => isOwnJump(r, names));
  const unmatched = [...jumps];
  const removals: string[] = [];
  for (const r of own) {
    const i = unmatched.findIndex((j) => j.chain === r.chain && sameRule(j.tokens, r.tokens));
    if (i >= 0) unmatched.splice(i, 1);
    else removals.push(`-D ${r.chain} ${r.spec}`);
  }
  const inserts = unmatched.map((j) => `-I ${j.chain} 1 ${j.spec}`);

  const wanted = new Set(want.chains);
  const stale = [...have.chains].filter((c) => names.owns(c) && !wanted.has(c));
  const foreignRefs = new Set(have.rules.filter((r) => !names.owns(r.chain) && !isOwnJump(r, names)).map((r) => r.target));
  const deletable = stale.filter((c) => !foreignRefs.has(c));
  plan.kept.push(...stale.filter((c) => foreignRefs.has(c)).map((c) => `${table}/${c}`));
  plan.deleted.push(...deletable.map((c) => `${table}/${c}`));
  plan.jumpsAdded += inserts.length;
  plan.jumpsRemoved += removals.length;

  if (want.chains.length + stale.length + removals.length + inserts.length === 0) return '';
  const lines = [
    `*${table}`,
    ...want.chains.map((c) => `:${c} - [0:0]`),
    ...stale.map((c) => `:${c} - [0:0]`),
    ...removals,
    ...inserts,
    ...want.rules,
    ...deletable.map((c) => `-X ${c}`),
    'COMMIT',
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * A partial restore, as kube-proxy's partial syncs: from the rules last applied
 * to the new ones, port by port (a port whose rules are the same object, or
 * equal, is skipped). A changed port's own chains are declared (flushed) and
 * rewritten, new ones created and gone ones flushed and deleted; its rules in
 * the shared chains are deleted one by one (`-D`) and the new ones inserted at
 * the top (`-I CHAIN 1`, in reverse, so they keep their order and stay above the
 * rules that must come last). No `iptables-save` is needed: the jumps and the
 * rest are taken to be as the last sync left them (a periodic full sync checks
 * that, and any failure, such as a `-D` finding nothing, falls back to one).
 * Empty when nothing changed.
 */
export function partialRestore(before: RuleSet, after: RuleSet): { text: string; deleted: string[] } {
  const changes: Record<TableName, PortChanges> = { nat: emptyChanges(), filter: emptyChanges() };
  const keys = new Set([...before.ports.keys(), ...after.ports.keys()]);
  for (const key of keys) {
    const was = before.ports.get(key);
    const now = after.ports.get(key);
    if (was === now || (was && now && was.fingerprint === now.fingerprint)) continue;
    portChanges(was, now, changes);
  }
  const deleted = TABLES.flatMap((t) => changes[t].gone.map((c) => `${t}/${c}`));
  const text = TABLES.map((t) => partialSection(t, changes[t])).join('');
  return { text, deleted };
}

type PortChanges = { write: { name: string; rules: string[] }[]; gone: string[]; remove: string[]; insert: string[] };

const emptyChanges = (): PortChanges => ({ write: [], gone: [], remove: [], insert: [] });

function portChanges(was: PortRules | undefined, now: PortRules | undefined, changes: Record<TableName, PortChanges>): void {
  const oldChains = new Map((was?.chains ?? []).map((c) => [c.name, c.rules]));
  const newNames = new Set((now?.chains ?? []).map((c) => c.name));
  for (const c of now?.chains ?? []) {
    const old = oldChains.get(c.name);
    if (!old || !sameLines(old, c.rules)) changes.nat.write.push(c);
  }
  for (const name of oldChains.keys()) if (!newNames.has(name)) changes.nat.gone.push(name);
  for (const t of TABLES) {
    const old = was?.shared[t] ?? [];
    const rules = now?.shared[t] ?? [];
    if (sameLines(old, rules)) continue;
    changes[t].remove.push(...old.map((r) => `-D ${r.slice(3)}`));
    changes[t].insert.push(...rules.map(insertAtTop).reverse());
  }
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i]);
}

/** `-A CHAIN spec` → `-I CHAIN 1 spec`. */
function insertAtTop(rule: string): string {
  const rest = rule.slice(3);
  const space = rest.indexOf(' ');
  return `-I ${rest.slice(0, space)} 1${rest.slice(space)}`;
}

function partialSection(table: TableName, c: PortChanges): string {
  if (c.write.length + c.gone.length + c.remove.length + c.insert.length === 0) return '';
  const lines = [
    `*${table}`,
    ...c.write.map((w) => `:${w.name} - [0:0]`),
    ...c.gone.map((name) => `:${name} - [0:0]`),
    ...c.remove,
    ...c.insert,
    ...c.write.flatMap((w) => w.rules),
    ...c.gone.map((name) => `-X ${name}`),
    'COMMIT',
  ];
  return `${lines.join('\n')}\n`;
}
