/**
 * `kubectl auth can-i`: a SelfSubjectAccessReview (authorization.k8s.io/v1) asks
 * whether the caller — after impersonation, so `--as` works too — may do a verb
 * on a resource or a non-resource path. It is answered by the same Authorizer
 * that guards every request, and never stored. Every authenticated user may ask
 * (the built-in role system:basic-user); without authorization configured,
 * everything is allowed, and so is the answer.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors } from '../../lib/errors/index.js';
import type { Authorizer, RequestAttributes } from '../authz/index.js';

export const ACCESS_REVIEW_GROUP = 'authorization.k8s.io';
export const ACCESS_REVIEW_PATH = `/apis/${ACCESS_REVIEW_GROUP}/v1/selfsubjectaccessreviews`;

/** What discovery lists for the group: the review is created, never read back. */
export const ACCESS_REVIEW_RESOURCE = {
  name: 'selfsubjectaccessreviews',
  singularName: 'selfsubjectaccessreview',
  namespaced: false,
  kind: 'SelfSubjectAccessReview',
  verbs: ['create'],
};

type Spec = {
  resourceAttributes?: { namespace?: string; verb?: string; group?: string; resource?: string; subresource?: string; name?: string };
  nonResourceAttributes?: { path?: string; verb?: string };
};

export function registerAccessReviewRoutes(app: FastifyInstance, authorizer: Authorizer | undefined): void {
  app.post(ACCESS_REVIEW_PATH, async (req: FastifyRequest, reply) => {
    const body = (req.body ?? {}) as { kind?: string; spec?: Spec };
    if (typeof body !== 'object' || Array.isArray(body) || (body.kind !== undefined && body.kind !== 'SelfSubjectAccessReview')) {
      throw errors.badRequest('the body must be a SelfSubjectAccessReview');
    }
    const attributes = attributesOf(body.spec ?? {});
    const status = !authorizer || !req.user ? { allowed: true } : authorizer.decide(req.user, attributes);
    return reply.code(201).send({
      apiVersion: `${ACCESS_REVIEW_GROUP}/v1`,
      kind: 'SelfSubjectAccessReview',
      metadata: { creationTimestamp: null },
      spec: body.spec ?? {},
      status,
    });
  });
}

/** The spec as the Authorizer's attributes; 400 when it names neither a resource nor a path with a verb. */
function attributesOf(spec: Spec): RequestAttributes {
  const r = spec.resourceAttributes;
  const n = spec.nonResourceAttributes;
  if (r && n) throw errors.badRequest('spec: resourceAttributes and nonResourceAttributes are mutually exclusive');
  if (r) {
    if (!r.verb || !r.resource) throw errors.badRequest('spec.resourceAttributes: verb and resource are required');
    return {
      kind: 'resource',
      verb: r.verb,
      apiGroup: r.group ?? '',
      resource: r.resource,
      ...(r.subresource ? { subresource: r.subresource } : {}),
      namespace: r.namespace ?? '',
      ...(r.name ? { name: r.name } : {}),
    };
  }
  if (n) {
    if (!n.verb || !n.path) throw errors.badRequest('spec.nonResourceAttributes: verb and path are required');
    return { kind: 'nonResource', verb: n.verb, path: n.path };
  }
  throw errors.badRequest('spec: one of resourceAttributes or nonResourceAttributes is required');
}
