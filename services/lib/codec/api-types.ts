/**
 * The plain-object shapes of the NATS API messages (protos/api.proto) as
 * encodeMessage() takes them and decodeMessage() returns them: absent fields are
 * absent (never defaulted), int64 are numbers, bytes are Uint8Array.
 * test/unit/codec.test.ts checks at compile time that the field names match the
 * generated declarations (services/lib/gen/types.d.ts).
 */

export type ListMeta = {
  selfLink?: string;
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
};

export type StatusCauseMessage = { reason?: string; message?: string; field?: string };

export type StatusDetailsMessage = {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCauseMessage[];
  retryAfterSeconds?: number;
};

/** A Kubernetes `Status` as carried in ApiResponse.status / WatchEvent.status. */
export type StatusMessage = {
  apiVersion?: string;
  kind?: string;
  metadata?: ListMeta;
  status?: string;
  message?: string;
  reason?: string;
  details?: StatusDetailsMessage;
  code?: number;
};

export type DeleteOptions = {
  apiVersion?: string;
  kind?: string;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  orphanDependents?: boolean;
  propagationPolicy?: string;
  dryRun?: string[];
};

export type ApiVerb = 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export type ApiRequest = {
  verb?: ApiVerb | (string & {});
  group?: string;
  version?: string;
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** create/update: the object encoded as its resource's message; patch: the raw patch. */
  body?: Uint8Array;
  patchType?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  limit?: number;
  continue?: string;
  watch?: boolean;
  allowWatchBookmarks?: boolean;
  deleteOptions?: DeleteOptions;
  dryRun?: string[];
  fieldManager?: string;
  force?: boolean;
  /** Fencing token, '' or absent when not fenced. */
  token?: string;
  /** Strict | Warn | Ignore. */
  fieldValidation?: string;
  /** Subresource / list options (log: container, follow, tailLines, ...). */
  params?: Record<string, string>;
};

export type ApiResponse = {
  code?: number;
  kind?: string;
  /** The object, encoded as its resource's message. */
  object?: Uint8Array;
  /** list: the items, each encoded as its resource's message. */
  items?: Uint8Array[];
  listMeta?: ListMeta;
  status?: StatusMessage;
  warnings?: string[];
};

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export type WatchEvent = {
  type?: WatchEventType | (string & {});
  kind?: string;
  object?: Uint8Array;
  status?: StatusMessage;
};

/** Message name → plain-object shape, for the typed overloads of encodeMessage/decodeMessage. */
export type ApiMessages = {
  'keelson.api.v1.ApiRequest': ApiRequest;
  'keelson.api.v1.ApiResponse': ApiResponse;
  'keelson.api.v1.WatchEvent': WatchEvent;
  'keelson.meta.v1.Status': StatusMessage;
  'keelson.meta.v1.ListMeta': ListMeta;
  'keelson.meta.v1.DeleteOptions': DeleteOptions;
};

export type ApiMessageName = keyof ApiMessages;
