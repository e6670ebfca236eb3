/**
 * The one error table. Every error a user can see is an ApiError with a
 * Kubernetes reason and HTTP code; the HTTP edge sends it as a `Status`, the NATS
 * edge as a protobuf Status, and clients turn either back into an ApiError.
 */

export const Reasons = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  NotAcceptable: 406,
  RequestTimeout: 408,
  AlreadyExists: 409,
  Conflict: 409,
  Gone: 410,
  Expired: 410,
  RequestEntityTooLarge: 413,
  UnsupportedMediaType: 415,
  Invalid: 422,
  TooManyRequests: 429,
  RequestHeaderFieldsTooLarge: 431,
  InternalError: 500,
  ServiceUnavailable: 503,
  Timeout: 504,
} as const;

export type Reason = keyof typeof Reasons;

/** One field-level problem inside a 422 Invalid. */
export type StatusCause = { reason?: string; field?: string; message: string };

export type StatusDetails = {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
};

/** The Kubernetes `Status` object, as sent on the wire. */
export type Status = {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
};

/** A Status as decoded from JSON or protobuf: every field may be missing. */
export type WireStatus = {
  reason?: string;
  message?: string;
  code?: number;
  details?: Omit<StatusDetails, 'causes'> & { causes?: Partial<StatusCause>[] };
};

export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: number;
  constructor(
    readonly reason: Reason,
    message: string,
    readonly details?: StatusDetails,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = Reasons[reason];
  }

  toStatus(): Status {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }

  /** Rebuilds the error from a Status received over the wire. */
  static fromStatus(s: WireStatus): ApiError {
    const reason = (s.reason && s.reason in Reasons ? s.reason : reasonForCode(s.code ?? 500)) as Reason;
    const { causes, ...rest } = s.details ?? {};
    const details: StatusDetails | undefined = s.details && {
      ...rest,
      ...(causes ? { causes: causes.map((c) => ({ ...c, message: c.message ?? '' })) } : {}),
    };
    return new ApiError(reason, s.message ?? reason, details);
  }
}

function reasonForCode(code: number): Reason {
  const found = Object.entries(Reasons).find(([, c]) => c === code);
  return (found?.[0] as Reason | undefined) ?? 'InternalError';
}

/** `pods "x"`, `deployments.apps "x"` — how Kubernetes names an object in a message. */
function qualified(resource: string, name: string, group = ''): string {
  return `${group ? `${resource}.${group}` : resource} "${name}"`;
}

/**
 * `text` as a message shows it: past `max` characters, cut with how much was
 * left out, so an error about a huge value is not itself huge (a 1 MiB name
 * would otherwise come back several times in one 422).
 */
export function elide(text: string, max = 256): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length - max} more characters)`;
}

/** Causes a message lists; every cause is in the Status' details. */
const CAUSES_IN_MESSAGE = 20;

/**
 * The causes of a 422 as its message lists them: the first 20, each cut at
 * 1,024 characters, then how many more (a body of 50,000 invalid rules would
 * otherwise make a 500 KB message, a label key of 2 MB a 2 MB one).
 */
function listCauses(causes: StatusCause[]): string {
  const shown = causes.slice(0, CAUSES_IN_MESSAGE).map((c) => elide(c.field ? `${c.field}: ${c.message}` : c.message, 1024));
  const more = causes.length - shown.length;
  return shown.join(', ') + (more > 0 ? `, and ${more} more (details.causes lists them all)` : '');
}

export const errors = {
  notFound: (resource: string, name: string, group = '') =>
    new ApiError('NotFound', `${qualified(resource, name, group)} not found`, { name, group, kind: resource }),
  alreadyExists: (resource: string, name: string, group = '') =>
    new ApiError('AlreadyExists', `${qualified(resource, name, group)} already exists`, {
      name,
      group,
      kind: resource,
    }),
  conflict: (resource: string, name: string, why: string, group = '') =>
    new ApiError(
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(resource, name, group)}: ${why}`,
      { name, group, kind: resource },
    ),
  invalid: (kind: string, name: string, causes: StatusCause[], group = '') =>
    new ApiError('Invalid', `${kind} "${elide(name)}" is invalid: ${listCauses(causes)}`, { name, group, kind, causes }),
  badRequest: (message: string) => new ApiError('BadRequest', message),
  expired: (message: string) => new ApiError('Expired', message),
  unavailable: (message: string, cause?: unknown) =>
    new ApiError('ServiceUnavailable', message, { retryAfterSeconds: 1 }, { cause }),
  /** The server gave up waiting for the store: the write may still be applied (kube-apiserver's 504 on an etcd timeout). */
  timeout: (message: string, cause?: unknown) => new ApiError('Timeout', message, { retryAfterSeconds: 1 }, { cause }),
  internal: (message: string, cause?: unknown) => new ApiError('InternalError', message, undefined, { cause }),
};

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

export function isNotFound(e: unknown): boolean {
  return isApiError(e) && e.reason === 'NotFound';
}

export function isConflict(e: unknown): boolean {
  return isApiError(e) && e.reason === 'Conflict';
}

export function isAlreadyExists(e: unknown): boolean {
  return isApiError(e) && e.reason === 'AlreadyExists';
}

/** Any error as an ApiError: unexpected ones become 500 InternalError. */
export function toApiError(e: unknown): ApiError {
  if (isApiError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return errors.internal(`internal error: ${message}`, e);
}

/**
 * Logs a request that failed on the server's side. The store being unavailable
 * (503, 504) is an outage, not a bug: one line, no stack; anything else 5xx
 * in full. Client errors (4xx) are the client's to see, not logged.
 */
export function logServerFailure(prefix: string, apiErr: ApiError, raw: unknown): void {
  if (apiErr.code === 503 || apiErr.code === 504) console.error(`${prefix}: ${apiErr.code} ${apiErr.message}`);
  else if (apiErr.code >= 500) console.error(`${prefix}:`, raw);
}
