/**
 * The only rules the backend puts in chains it does not own: one jump from each
 * built-in chain that needs it to the backend's entry chains, inserted first and
 * carrying a comment that names the backend. A rule in a built-in chain is taken
 * for the backend's own only if it has that comment AND jumps to one of its chains.
 */
import type { ChainNames } from './chain-names.js';
import { comment } from './rules.js';
import { BUILTIN_CHAINS, tokenize, type SavedRule } from './saved-state.js';

export type TableName = 'nat' | 'filter';

export type Jump = { table: TableName; chain: string; spec: string; tokens: string[] };

/** How every jump comment starts. */
export const JUMP_COMMENT = 'keelson-proxy iptables backend';

export function jumpsOf(names: ChainNames): Jump[] {
  const jump = (table: TableName, chain: string, target: string, why: string): Jump => {
    const spec = `${comment(`${JUMP_COMMENT}: ${why}`)} -j ${target}`;
    return { table, chain, spec, tokens: tokenize(spec) };
  };
  return [
    jump('nat', 'PREROUTING', names.services, 'service portals'),
    jump('nat', 'OUTPUT', names.services, 'service portals'),
    jump('nat', 'POSTROUTING', names.postrouting, 'SNAT of marked service traffic'),
    jump('filter', 'FORWARD', names.services, 'reject service traffic with no endpoint'),
    jump('filter', 'OUTPUT', names.services, 'reject service traffic with no endpoint'),
    jump('filter', 'INPUT', names.nodePorts, 'reject node ports with no endpoint'),
    jump('filter', 'OUTPUT', names.nodePorts, 'reject node ports with no endpoint'),
  ];
}

export function isOwnJump(rule: SavedRule, names: ChainNames): boolean {
  return (
    BUILTIN_CHAINS.has(rule.chain) &&
    rule.target !== undefined &&
    names.owns(rule.target) &&
    rule.comment !== undefined &&
    rule.comment.startsWith(JUMP_COMMENT)
  );
}

export function sameRule(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
