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

/** Message shapes: one definition, beside the codec that checks them against the protos. */
export type { ApiRequest, ApiResponse, ApiVerb } from '../codec/api-types.js';
