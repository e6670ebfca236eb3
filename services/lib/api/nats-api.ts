/**
 * The NATS face of the API: one request subject served by every API server in
 * one queue group (so they share the load), protobuf messages both ways.
 */
import type { ResourceInfo } from './resources.js';

/** Requests go here; any API server in the queue group answers. */
export const API_SUBJECT = 'keelson.api.v1.request';
export const API_QUEUE = 'keelson-apiserver';
export const API_SERVICE_NAME = 'keelson-apiserver';

export const REQUEST_TYPE = 'keelson.api.v1.ApiRequest';
export const RESPONSE_TYPE = 'keelson.api.v1.ApiResponse';

/** The message a request body or response object is encoded as. */
export function bodyTypeFor(resource: ResourceInfo, subresource?: string): string {
  switch (subresource) {
    case 'scale':
      return 'keelson.autoscaling.v1.Scale';
    case 'binding':
      return 'keelson.core.v1.Binding';
    case 'eviction':
      return 'keelson.policy.v1.Eviction';
    default:
      return resource.protoType;
  }
}

export type ApiVerb = 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** The plain-object shape of keelson.api.v1.ApiRequest. */
export type ApiRequest = {
  verb: ApiVerb;
  group?: string;
  version?: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  body?: Uint8Array;
  patchType?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  limit?: number;
  continue?: string;
  deleteOptions?: Record<string, unknown>;
  dryRun?: string[];
  fieldValidation?: string;
  token?: string;
};

/** The plain-object shape of keelson.api.v1.ApiResponse. */
export type ApiResponse = {
  code: number;
  kind?: string;
  object?: Uint8Array;
  items?: Uint8Array[];
  listMeta?: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  status?: Record<string, unknown>;
  warnings?: string[];
};
