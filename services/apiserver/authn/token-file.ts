/**
 * Static bearer tokens in kube-apiserver's `--token-auth-file` format: one user
 * per line, `token,user,uid,"group1,group2"` (the uid may be empty, the groups
 * left out; `#` starts a comment). Tokens are kept only as SHA-256 digests, so a lookup's
 * timing says nothing about a token, and no error ever quotes one.
 *
 *   const tokens = parseTokenFile(readFileSync(path, 'utf8'), path);
 *   tokens.get(tokenDigest(bearer)) // → { name, uid, groups } | undefined
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { writePrivateFile } from '../../lib/files/index.js';
import type { UserInfo } from './user.js';

/** Users by the SHA-256 digest (hex) of their token. */
export type TokenTable = Map<string, UserInfo>;

export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The file's users with their tokens, in file order; throws on a malformed line, naming the file and line, never the token. */
function tokenLines(text: string, source: string): { token: string; user: UserInfo }[] {
  const out: { token: string; user: UserInfo }[] = [];
  const seen = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const fields = splitCsv(line);
    const where = `${source}, line ${i + 1}`;
    // At least three columns, as kube-apiserver wants (the uid may be empty).
    if (!fields || fields.length < 3) throw new Error(`${where}: expected token,user,uid[,"group1,group2"]`);
    const [token, name, uid, groups] = fields as [string, string, string?, string?];
    if (!token) throw new Error(`${where}: the token is empty`);
    if (!name) throw new Error(`${where}: the user name is empty`);
    if (seen.has(token)) throw new Error(`${where}: this token is already given to "${seen.get(token)}"`);
    seen.set(token, name);
    out.push({ token, user: { name, ...(uid ? { uid } : {}), groups: (groups ?? '').split(',').map((g) => g.trim()).filter(Boolean) } });
  });
  return out;
}

/** Users by their tokens' digests; throws as tokenLines does. */
export function parseTokenFile(text: string, source = 'token file'): TokenTable {
  return new Map(tokenLines(text, source).map((l) => [tokenDigest(l.token), l.user]));
}

/** A new random token: 32 bytes, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Adds a line with a new token for each of `users` the file does not name yet
 * (the file is made, 0600, if missing); lines already there are kept as they
 * are. Returns each wanted user's token as the file now has it.
 */
export function ensureTokenFile(path: string, users: UserInfo[]): Map<string, string> {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# token,user,uid,"groups" (kube-apiserver --token-auth-file format)\n';
  // Refuses to add to a file that is already broken; a user named twice keeps its first token.
  const tokens = new Map<string, string>();
  for (const l of tokenLines(text, path)) if (!tokens.has(l.user.name)) tokens.set(l.user.name, l.token);
  let added = '';
  for (const u of users) {
    if (tokens.has(u.name)) continue;
    const token = newToken();
    tokens.set(u.name, token);
    added += `${token},${u.name},${u.uid ?? u.name},"${u.groups.join(',')}"\n`;
  }
  if (added || !existsSync(path)) writePrivateFile(path, (text.endsWith('\n') || !text ? text : `${text}\n`) + added);
  else chmodSync(path, 0o600);
  return new Map(users.map((u) => [u.name, tokens.get(u.name)!]));
}

/** One CSV line: fields split on commas outside double quotes ("" is a quote); undefined if a quote is left open. */
function splitCsv(line: string): string[] | undefined {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') out.push(field.trim()), (field = '');
    else field += c;
  }
  if (quoted) return undefined;
  out.push(field.trim());
  return out;
}
