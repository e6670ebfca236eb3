/**
 * What a request asks to do, in the terms RBAC rules are written in (as
 * Kubernetes' RequestInfo): a verb on a resource (group, plural, subresource,
 * namespace, name), or a verb on a non-resource path. Pure.
 */
import { isWatchRequest, parseRequestInfo } from '../http/request-info.js';

export type ResourceAttributes = {
  kind: 'resource';
  verb: string;
  apiGroup: string;
  resource: string;
  subresource?: string;
  /** '' for cluster-scoped resources and requests across every namespace. */
  namespace: string;
  /** Undefined for lists, watches, creates and collection deletes. */
  name?: string;
};

export type NonResourceAttributes = { kind: 'nonResource'; verb: string; path: string };

export type RequestAttributes = ResourceAttributes | NonResourceAttributes;

/** HTTP method → the verb of a non-resource request, lower-case as in rules. */
const NON_RESOURCE_VERBS: Record<string, string> = { GET: 'get', HEAD: 'head', POST: 'post', PUT: 'put', PATCH: 'patch', DELETE: 'delete', OPTIONS: 'options' };

export function requestAttributes(method: string, url: string, query: Record<string, unknown> = {}): RequestAttributes {
  const [path = '/'] = url.split('?');
  const info = parseRequestInfo(url);
  if (info.kind !== 'resource') return { kind: 'nonResource', verb: NON_RESOURCE_VERBS[method] ?? method.toLowerCase(), path };
  return {
    kind: 'resource',
    verb: resourceVerb(method, info.name !== undefined, isWatchRequest(url, query), info.subresource),
    apiGroup: info.group,
    resource: info.plural,
    ...(info.subresource ? { subresource: info.subresource } : {}),
    namespace: namespaceOfRequest(info.group, info.plural, info.name, info.namespace),
    ...(info.name !== undefined ? { name: info.name } : {}),
  };
}

/** The namespace a request is in: as Kubernetes, one for a namespace itself is in that namespace, so a RoleBinding there can grant it. */
export function namespaceOfRequest(group: string, plural: string, name: string | undefined, namespace: string): string {
  return plural === 'namespaces' && group === '' && name ? name : namespace;
}

function resourceVerb(method: string, named: boolean, watching: boolean, subresource?: string): string {
  // kubectl exec opens a WebSocket with GET; Kubernetes asks for `create` on pods/exec either way.
  if (subresource === 'exec') return 'create';
  switch (method) {
    case 'GET':
    case 'HEAD':
      return watching ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

/** `pods`, `pods/status`: the resource as a rule names it. */
export function combinedResource(a: ResourceAttributes): string {
  return a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
}
