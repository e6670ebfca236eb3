/**
 * The repair loop, as Kubernetes' IP and node port repair controllers: the
 * bucket and the Services are brought back into agreement at start and then
 * every minute.
 *
 *  - An allocation whose owner (by uid) no longer exists, or no longer uses
 *    it, is released — once it is older than the grace, so that a create in
 *    flight on another API server (value claimed, object not yet written) is
 *    not robbed. The delete is at the revision seen: a value claimed again
 *    meanwhile stays.
 *  - A Service whose IP or node ports have no allocation (written before
 *    allocation existed, or a release that raced an update) gets them
 *    recorded; a value another Service holds is reported, not taken.
 *
 * Every API server runs it; all its writes are compare-and-swap, so running
 * it twice at once does no harm. A round does at most `maxWrites` writes.
 */
import type { KObject } from '../../lib/api/resources.js';
import type { Allocation } from './allocations.bucket.js';
import { ownerOf, type ServiceAllocator } from './service-allocator.js';

export type RepairOptions = {
  /** Between rounds (default 60 s). */
  intervalMs?: number;
  /** Allocations younger than this are never released (default 60 s). */
  graceMs?: number;
  /** Writes per round at most (default 1,000); the rest waits for the next round. */
  maxWrites?: number;
  log?: (message: string) => void;
};

/** What one round did, by key (`ip.10.96.0.7`, `nodeport.30080`). */
export type RepairReport = {
  released: string[];
  recorded: string[];
  /** Values used by a Service but held by another: `key: ns/name holds it, ns/name uses it too`. */
  conflicts: string[];
};

export type Repair = {
  /** One round now (rounds never overlap). */
  runOnce(): Promise<RepairReport>;
  stop(): Promise<void>;
};

/**
 * Starts the loop: a round at once, then every `intervalMs`. `services` lists
 * every Service as stored now (a cache caught up with the store).
 */
export function startRepair(allocator: ServiceAllocator, services: () => Promise<KObject[]>, opts: RepairOptions = {}): Repair {
  const log = opts.log ?? ((m: string) => console.error(m));
  let running: Promise<RepairReport> | undefined;
  let stopped = false;
  const runOnce = () =>
    (running ??= repairRound(allocator, services, opts).finally(() => {
      running = undefined;
    }));
  const tick = () => {
    if (stopped) return;
    runOnce()
      .then((r) => {
        if (r.released.length || r.recorded.length) log(`allocations repair: released ${r.released.length} unused, recorded ${r.recorded.length} missing`);
        for (const c of r.conflicts) log(`allocations repair: ${c}`);
      })
      .catch((e) => log(`allocations repair failed, next round in ${Math.round((opts.intervalMs ?? 60_000) / 1000)} s: ${(e as Error).message}`));
  };
  const timer = setInterval(tick, opts.intervalMs ?? 60_000);
  timer.unref();
  tick();
  return {
    runOnce,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}

async function repairRound(allocator: ServiceAllocator, listServices: () => Promise<KObject[]>, opts: RepairOptions): Promise<RepairReport> {
  const graceMs = opts.graceMs ?? 60_000;
  let writes = opts.maxWrites ?? 1_000;
  const report: RepairReport = { released: [], recorded: [], conflicts: [] };
  // Allocations first, Services second: any allocation older than the grace
  // belongs to a create that has finished, so its Service is in this list.
  const allocations = allocator.bucket.entries();
  const services = await listServices();
  const used = new Map<string, Set<string>>();
  for (const svc of services) used.set(svc.metadata?.uid ?? '', new Set(allocator.keysOf(svc)));

  const now = Date.now();
  for (const a of allocations) {
    if (writes <= 0) break;
    if (used.get(a.owner.uid)?.has(a.key) || now - a.createdMs < graceMs) continue;
    writes--;
    if (await allocator.bucket.releaseAt(a)) report.released.push(a.key);
  }
  for (const svc of services) {
    const owner = ownerOf(svc);
    for (const key of allocator.keysOf(svc)) {
      if (writes <= 0) return report;
      if (!allocator.inRange(key)) continue;
      const held = allocator.bucket.peek(key);
      if (held?.owner.uid === owner.uid) continue;
      if (held) {
        report.conflicts.push(conflict(key, held, svc));
        continue;
      }
      writes--;
      const c = await allocator.bucket.claim(key, owner);
      if (c.outcome === 'claimed') report.recorded.push(key);
      else if (c.outcome === 'taken' && c.holder) report.conflicts.push(conflict(key, c.holder, svc));
    }
  }
  return report;
}

function conflict(key: string, holder: Allocation, svc: KObject): string {
  const who = `${holder.owner.namespace}/${holder.owner.name}`;
  return `${key}: ${who} holds it, but ${svc.metadata?.namespace}/${svc.metadata?.name} uses it too; change one of them`;
}
