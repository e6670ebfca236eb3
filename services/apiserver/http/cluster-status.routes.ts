/**
 * `GET /keelson/v1/status`: the cluster status report (masters, NATS peers and
 * stream leaders, election leaders, nodes) as JSON, so that `keelson status
 * --server URL` reads it through the load balancer in front of the API
 * servers. A non-resource path like /version: `kubectl get --raw /keelson/v1/status`.
 * Nodes and Leases come from this server's registry (its watch cache); the
 * rest from its NATS connection. When nothing at all could be gathered the
 * answer is a 503 Status; a section that failed alone carries its `error`.
 */
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { clusterStatus, CLUSTER_STATUS_PATH } from '../cluster-status/index.js';
import type { Registry } from '../registry/index.js';

const SECTION = { type: 'object', additionalProperties: true } as const;

/** The report's outline; the sections' fields are documented in cluster-status/report.ts. */
const REPORT_SCHEMA = {
  type: 'object',
  required: ['kind', 'apiVersion', 'time', 'source', 'masters', 'nats', 'leaders', 'nodes'],
  properties: {
    kind: { type: 'string' },
    apiVersion: { type: 'string' },
    time: { type: 'string' },
    source: SECTION,
    masters: SECTION,
    nats: SECTION,
    leaders: SECTION,
    nodes: SECTION,
  },
} as const;

export function registerClusterStatusRoutes(app: FastifyInstance, registry: Registry): void {
  app.get(CLUSTER_STATUS_PATH, { schema: { response: { 200: REPORT_SCHEMA } } }, async (req) =>
    clusterStatus(registry.store.connection, {
      storeBucket: registry.store.bucket,
      objects: async (resource, namespace) => (await registry.list(resource, namespace)).items,
      source: { via: 'apiserver', hostname: hostname(), apiserver: `${req.socket.localAddress}:${req.socket.localPort}` },
    }),
  );
}
