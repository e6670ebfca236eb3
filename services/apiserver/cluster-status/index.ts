/**
 * The cluster status report (tracker issue 6): masters, NATS peers and stream
 * leaders, election leaders, nodes — gathered from one NATS connection.
 *
 *   const report = await clusterStatus(nc);                        // the CLI, over NATS
 *   const report = await clusterStatus(nc, { storeBucket, objects }); // the API server, GET /keelson/v1/status
 */
export { clusterStatus, nodeStatus, type ClusterStatusOptions, type ObjectLister } from './cluster-status.js';
export { natsSection } from './nats-peers.js';
export * from './report.js';
