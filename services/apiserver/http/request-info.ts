/**
 * Turns a Kubernetes API path into what it addresses (as Kubernetes'
 * RequestInfoFactory does): discovery, or a resource with its namespace, name
 * and subresource. Pure, so every path shape is tested without a server.
 */
import { resourceFor, type ResourceInfo } from '../../lib/api/resources.js';

export type Discovery =
  | { kind: 'versions' } // /api
  | { kind: 'groups' } // /apis
  | { kind: 'group'; group: string } // /apis/apps
  | { kind: 'resources'; group: string; version: string }; // /api/v1, /apis/apps/v1

export type ResourceRequest = {
  kind: 'resource';
  group: string;
  version: string;
  /** Undefined when the plural is not served (answered with 404). */
  resource?: ResourceInfo;
  plural: string;
  /** '' for cluster-scoped or all-namespaces requests. */
  namespace: string;
  name?: string;
  subresource?: string;
};

export type RequestInfo = Discovery | ResourceRequest | { kind: 'unknown' };

/** Splits `/api/v1/namespaces/ns/pods/x/status` into what it names. */
export function parseRequestInfo(path: string): RequestInfo {
  const clean = path.split('?')[0]!.replace(/\/+$/, '');
  const parts = clean.split('/').filter(Boolean).map(decodeURIComponent);
  let group = '';
  let rest: string[];
  if (parts[0] === 'api') {
    if (parts.length === 1) return { kind: 'versions' };
    rest = parts.slice(1);
  } else if (parts[0] === 'apis') {
    if (parts.length === 1) return { kind: 'groups' };
    group = parts[1]!;
    if (parts.length === 2) return { kind: 'group', group };
    rest = parts.slice(2);
  } else return { kind: 'unknown' };

  const version = rest[0]!;
  const segs = rest.slice(1);
  if (segs.length === 0) return { kind: 'resources', group, version };
  // The legacy `/watch/` prefix is the same as `?watch=true`; the caller checks it.
  if (segs[0] === 'watch') segs.shift();

  const make = (plural: string, namespace: string, name?: string, subresource?: string): ResourceRequest => ({
    kind: 'resource',
    group,
    version,
    plural,
    resource: resourceFor(group, version, plural),
    namespace,
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
  });

  if (segs[0] === 'namespaces' && segs.length >= 3 && group === '' && !isNamespaceSubresource(segs[2]!)) {
    // /namespaces/{ns}/{plural}[/{name}[/{sub}]]
    const [, ns, plural, name, sub] = segs as [string, string, string, string?, string?];
    if (segs.length > 5) return { kind: 'unknown' };
    return make(plural, ns, name, sub);
  }
  if (segs[0] === 'namespaces' && segs.length >= 3 && group !== '') {
    const [, ns, plural, name, sub] = segs as [string, string, string, string?, string?];
    if (segs.length > 5) return { kind: 'unknown' };
    return make(plural, ns, name, sub);
  }
  // /{plural}[/{name}[/{sub}]] — cluster-scoped, or every namespace.
  if (segs.length > 3) return { kind: 'unknown' };
  const [plural, name, sub] = segs as [string, string?, string?];
  return make(plural, '', name, sub);
}

/** A watch: `?watch=true|1`, or the legacy `/watch/` path prefix (in the path, not the query). */
export function isWatchRequest(url: string, query: Record<string, unknown>): boolean {
  return query.watch === 'true' || query.watch === '1' || url.split('?')[0]!.includes('/watch/');
}

/** `/api/v1/namespaces/{name}/status|finalize` are a namespace's own subresources. */
function isNamespaceSubresource(seg: string): boolean {
  return seg === 'status' || seg === 'finalize';
}
