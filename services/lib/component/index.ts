/**
 * What every control-plane component shares besides its work: the health and
 * metrics server, and the Prometheus text it serves.
 */
export { metric, renderMetrics, type Metric, type MetricType, type Sample } from './metrics.js';
export { serveComponent, type Check, type ComponentServer, type ComponentServerOptions } from './server.js';
export { runLeaderElected, type LeaderElected, type LeaderElectedOptions } from './leader-elected.js';
