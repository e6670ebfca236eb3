/**
 * Authentication at the HTTP edge, as kube-apiserver does it with anonymous
 * requests turned off: a request is some user when it carries a bearer token
 * from the token file, or a client certificate the TLS layer verified against
 * the client CA (CN = user, O = groups); else it gets 401. The token file is
 * read again when it changes (looked at no more than once a second), so tokens
 * are added and revoked without a restart; an edit that does not parse is
 * refused and the tokens before it stay; a file taken away revokes them all.
 * Nothing here logs or answers a credential.
 *
 * Behind an authenticating proxy (Kubernetes' `--requestheader-*`, the compose
 * cluster's haproxy): a request whose connection shows a verified client
 * certificate with a CN of `requestHeader.allowedNames` is the proxy's, and
 * the user is what its X-Remote-User / X-Remote-Group headers say (the proxy
 * checked the user's own certificate); without those headers, the user's
 * bearer token, passed on, is checked here. Anyone else's X-Remote-* headers
 * count for nothing.
 *
 *   const authn = new Authenticator({ tokenAuthFile: 'tokens.csv', clientCertificates: true, log });
 *   const who = authn.authenticate(req.raw.headersDistinct, req.raw.socket); // Authenticated | string (why not)
 */
import { readFileSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { parseTokenFile, tokenDigest, type TokenTable } from './token-file.js';
import { AUTHENTICATED_GROUP, type UserInfo } from './user.js';

export { ensureTokenFile, newToken, parseTokenFile } from './token-file.js';
export { AUTHENTICATED_GROUP, MASTERS_GROUP, natsCaller, type UserInfo } from './user.js';

export type AuthenticationOptions = {
  /** `--token-auth-file`. */
  tokenAuthFile?: string;
  /** Trust client certificates the TLS server verified (it was given `--client-ca-file`). */
  clientCertificates?: boolean;
  /** `--requestheader-allowed-names`: the CNs of the authenticating proxies' client certificates (needs clientCertificates). */
  requestHeader?: { allowedNames: string[] };
  log?: (message: string) => void;
};

const RELOAD_CHECK_MS = 1_000;

/** Kubernetes' default request headers for an authenticating proxy. */
export const REMOTE_USER_HEADER = 'x-remote-user';
export const REMOTE_GROUP_HEADER = 'x-remote-group';

/** Who made a request, and whether it came through an authenticating proxy (whose other headers may be trusted too). */
export type Authenticated = { user: UserInfo; viaProxy: boolean };
type Headers = Record<string, string[] | undefined>;

export class Authenticator {
  private tokens: TokenTable = new Map();
  private loadedMtime = -1;
  private checkedAt = 0;

  /** Throws when the token file cannot be read or parsed: a configuration error at start. */
  constructor(private readonly opts: AuthenticationOptions) {
    if (opts.tokenAuthFile) this.reload(true);
  }

  /** The user, or why the request is not anyone (for 401's message: never the credential itself). */
  authenticate(headers: Headers, socket: Socket): Authenticated | string {
    const as = (user: UserInfo, viaProxy = false): Authenticated => ({ user: withAuthenticated(user), viaProxy });
    // As Kubernetes' union of authenticators: the proxy's headers, the client certificate, then the token; the first that names a user wins.
    const certificate = this.opts.clientCertificates ? certificateUser(socket as TLSSocket) : undefined;
    const viaProxy = certificate !== undefined && (this.opts.requestHeader?.allowedNames.includes(certificate.name) ?? false);
    if (viaProxy) {
      const name = headers[REMOTE_USER_HEADER]?.[0];
      if (name) return as({ name, groups: headers[REMOTE_GROUP_HEADER] ?? [] }, true);
    } else if (certificate) return as(certificate);
    const authorization = headers.authorization?.[0];
    if (authorization !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!m) return 'the Authorization header is not "Bearer <token>"';
      if (this.opts.tokenAuthFile) this.reload(false);
      const user = this.tokens.get(tokenDigest(m[1]!));
      return user ? as(user, viaProxy) : 'the bearer token is not valid';
    }
    return 'no credentials: send a bearer token or a client certificate signed by the cluster CA';
  }

  private reload(atStart: boolean): void {
    const file = this.opts.tokenAuthFile!;
    const now = Date.now();
    if (!atStart && now - this.checkedAt < RELOAD_CHECK_MS) return;
    this.checkedAt = now;
    // At start the file must be there and parse: a mistyped path is a configuration error, not a server without tokens.
    if (atStart) {
      this.tokens = parseTokenFile(readFileSync(file, 'utf8'), file);
      this.loadedMtime = statMtime(file);
      return;
    }
    const mtime = statMtime(file);
    if (mtime === this.loadedMtime) return;
    this.loadedMtime = mtime;
    if (mtime < 0 && !atStart) {
      // A token file taken away revokes every token in it.
      this.tokens = new Map();
      this.opts.log?.(`apiserver: token file ${file} is gone: no token is valid until it is back`);
      return;
    }
    try {
      this.tokens = parseTokenFile(readFileSync(file, 'utf8'), file);
      if (!atStart) this.opts.log?.(`apiserver: token file ${file} read again: ${this.tokens.size} users`);
    } catch (e) {
      if (atStart) throw e;
      // Once per change of the file: an edit that does not parse is refused, the tokens before it stay.
      this.opts.log?.(`apiserver: token file not read again, the tokens before stay: ${(e as Error).message}`);
    }
  }
}

/** The user of a client certificate the TLS layer verified; undefined without one. */
function certificateUser(socket: TLSSocket): UserInfo | undefined {
  if (!socket.authorized || typeof socket.getPeerCertificate !== 'function') return undefined;
  const subject = socket.getPeerCertificate().subject as Record<string, string | string[]> | undefined;
  const name = first(subject?.CN);
  if (!name) return undefined;
  const o = subject?.O;
  return { name, groups: o === undefined ? [] : Array.isArray(o) ? o : [o] };
}

function withAuthenticated(user: UserInfo): UserInfo {
  return user.groups.includes(AUTHENTICATED_GROUP) ? user : { ...user, groups: [...user.groups, AUTHENTICATED_GROUP] };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function statMtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}
