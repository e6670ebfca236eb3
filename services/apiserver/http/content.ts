/**
 * What the HTTP edge accepts and sends: JSON, YAML, Kubernetes protobuf and the
 * patch media types in, JSON (or a Table for kubectl) out; bodies over the limit
 * are refused with 413.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../lib/errors/index.js';
import { parseText } from '../input/index.js';
import { decodeK8sProtobuf, PROTOBUF_MEDIA_TYPE, UndecodedBody } from './k8s-protobuf.js';

/** Kubernetes refuses request bodies over 3 MiB. */
export const BODY_LIMIT = 3 * 1024 * 1024;

const JSON_TYPES = [
  'application/json',
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
];
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'application/apply-patch+yaml'];

export function registerContentTypes(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => {
    const text = String(body);
    if (!text.trim()) return done(null, undefined);
    try {
      done(null, parseText(text, 'json'));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => {
    try {
      done(null, parseText(String(body), 'yaml'));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  // kubectl's typed clients (`create namespace|deployment|service`) send protobuf only.
  app.addContentTypeParser(PROTOBUF_MEDIA_TYPE, { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_req, body, done) => {
    try {
      done(null, decodeK8sProtobuf(body as Buffer));
    } catch (e) {
      if (e instanceof ApiError) done(null, new UndecodedBody(e));
      else done(e as Error, undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (req, _body, done) => {
    const type = req.headers['content-type'];
    done(new ApiError('UnsupportedMediaType', `the media type "${type}" is not supported; send application/json or application/yaml`), undefined);
  });
}

/** The media type without parameters: `application/json`. */
export function mediaType(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
}

/** kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` from `get`. */
export function wantsTable(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? '';
  return accept
    .split(',')
    .some((part) => /;\s*as=Table/.test(part) && /;\s*g=meta\.k8s\.io/.test(part) && !/application\/vnd\.kubernetes\.protobuf/.test(part));
}
