/**
 * Cluster IPs and node ports for Services, stored so that several API
 * servers, restarts and concurrent creates never hand out one value twice.
 *
 *   const allocator = await openServiceAllocator(nc, { storeBucket, replicas, ipRange, nodePortRange, lookup });
 *   await allocator.allocate(svc, oldSvc);          // picks / claims, sets spec.clusterIP(s) and nodePorts
 *   await allocator.releaseUnused(owner, keys, current);
 *   const repair = startRepair(allocator, listServices);
 *
 * The bucket (allocations.bucket.ts) holds one key per value in use with its
 * owner; the allocator (service-allocator.ts) reads a Service's spec
 * (service-fields.ts) and picks free values (pick.ts) in the ranges
 * (ranges.ts); the repair loop (repair.ts) mends what crashes leave behind.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { AllocationsBucket } from './allocations.bucket.js';
import { ServiceAllocator, type AllocatorOptions } from './service-allocator.js';

export {
  AllocationsBucket,
  allocationsBucketName,
  ipKey,
  nodePortKey,
  type Allocation,
  type Claim,
  type Owner,
} from './allocations.bucket.js';
export { DEFAULT_SERVICE_CLUSTER_IP_RANGE, InvalidRangeError, parsePortRange, portRangeText, ServiceIPRange } from './ranges.js';
export { startRepair, type Repair, type RepairOptions, type RepairReport } from './repair.js';
export { ownerOf, ServiceAllocator, type AllocatorOptions } from './service-allocator.js';
export { prepareServiceUpdate } from './service-fields.js';

export type OpenAllocatorOptions = AllocatorOptions & {
  /** The object store's bucket: the allocations bucket is `<it>-allocations`. */
  storeBucket: string;
  /** Replicas of the allocations bucket when it is created: as the object store's. */
  replicas: number;
};

/** Opens (or creates) the allocations bucket and loads its local view. */
export async function openServiceAllocator(nc: NatsConnection, opts: OpenAllocatorOptions): Promise<ServiceAllocator> {
  const bucket = await AllocationsBucket.open(nc, { storeBucket: opts.storeBucket, replicas: opts.replicas, log: opts.log });
  await bucket.start();
  return new ServiceAllocator(bucket, opts);
}
