/**
 * What is there now: `iptables-save` output parsed into chains and rules per
 * table. The backend reads it before every restore to learn which of its chains
 * exist (stale ones are deleted), whether its jumps are in place, and which rules
 * someone else made (never touched, and never left pointing at a deleted chain).
 */

export type SavedRule = {
  chain: string;
  /** The rule as saved, after `-A CHAIN ` (restore accepts it back, e.g. after `-D CHAIN `). */
  spec: string;
  /** Its tokens, quotes removed. */
  tokens: string[];
  /** The `-j` or `-g` target, if any. */
  target?: string;
  /** The `--comment` text, if any. */
  comment?: string;
};

export type SavedTable = { chains: Set<string>; rules: SavedRule[] };

export type SavedState = { nat: SavedTable; filter: SavedTable };

export const BUILTIN_CHAINS = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

export const emptyTable = (): SavedTable => ({ chains: new Set(), rules: [] });

/** Parses the output of `iptables-save` (one or several tables). Lines it does not know are skipped. */
export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let table: SavedTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      table = emptyTable();
      tables.set(line.slice(1).trim(), table);
    } else if (!table) {
      continue;
    } else if (line.startsWith(':')) {
      table.chains.add(line.slice(1).split(' ')[0]!);
    } else if (line.startsWith('-A ')) {
      table.rules.push(parseRule(line.slice(3)));
    }
  }
  return tables;
}

function parseRule(rest: string): SavedRule {
  const space = rest.indexOf(' ');
  const chain = space < 0 ? rest : rest.slice(0, space);
  const spec = space < 0 ? '' : rest.slice(space + 1);
  const tokens = tokenize(spec);
  const rule: SavedRule = { chain, spec, tokens };
  for (let i = 0; i < tokens.length - 1; i++) {
    const t = tokens[i];
    if ((t === '-j' || t === '-g' || t === '--jump' || t === '--goto') && rule.target === undefined) rule.target = tokens[i + 1]!;
    if (t === '--comment' && rule.comment === undefined) rule.comment = tokens[i + 1]!;
  }
  return rule;
}

/** Splits on spaces; double quotes group (with `\"` and `\\` escapes), as iptables-save writes them. */
export function tokenize(spec: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i]!;
    if (quoted) {
      if (c === '\\' && i + 1 < spec.length) cur += spec[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inToken = true;
    } else if (c === ' ' || c === '\t') {
      if (inToken) out.push(cur);
      cur = '';
      inToken = false;
    } else {
      cur += c;
      inToken = true;
    }
  }
  if (inToken) out.push(cur);
  return out;
}
