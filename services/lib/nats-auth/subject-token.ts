/**
 * A user or node name as one NATS subject token: bytes outside [A-Za-z0-9:_-]
 * are written `=XX`, so `.`, `*`, `>` and spaces in a name can never add a
 * token or a wildcard to a subject, nor widen a permission that names it.
 */

/** `user` as one subject token. */
export function subjectToken(user: string): string {
  let out = '';
  for (const byte of Buffer.from(user, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9:_-]/.test(c) ? c : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out || '=';
}

/** The user a subject token names (subjectToken's inverse), or undefined when it is not one. */
export function userOfToken(token: string): string | undefined {
  if (token === '=') return '';
  if (!/^(?:[A-Za-z0-9:_-]|=[0-9A-F]{2})+$/.test(token)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '=') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(token.charCodeAt(i));
  }
  const user = Buffer.from(bytes).toString('utf8');
  return subjectToken(user) === token ? user : undefined;
}

