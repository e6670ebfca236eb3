/** The scheduler's view of the cluster: nodes, what is bound and assumed on them, pods as plugins read them. */
export { SchedulerCache, type CacheCounts } from './scheduler.cache.js';
export { NodeInfo, ZONE_LABEL, zoneCount, type Readiness, type Taint } from './node-info.js';
export { makePodInfo, normalizeImageName, type HostPort, type PodInfo, type Requests, type Toleration } from './pod-info.js';
export type { NodeMatcher, WeightedMatcher } from './node-selector.js';
