/**
 * Cluster IPs and node ports for Services, on the allocations bucket. The
 * registry calls `allocate` before it writes a Service (create or update),
 * and `releaseUnused` once the write is done or failed, or the Service has
 * left the store. Picked values are set on the object; a requested value that
 * is taken or out of range is a 422 Invalid in Kubernetes' words; whatever a
 * failed allocation took is given back before it throws.
 */
import type { KObject } from '../../lib/api/resources.js';
import { errors } from '../../lib/errors/index.js';
import { Errs, type PortRange } from '../registry/validation/index.js';
import { ipKey, nodePortKey, parseKey, type AllocationsBucket, type Owner } from './allocations.bucket.js';
import { IP_BAND, NODE_PORT_BAND, pickFree, staticBand } from './pick.js';
import type { ServiceIPRange } from './ranges.js';
import { clusterIPOf, needsClusterIP, nodePortsOf, portsWanting, setClusterIP, setNodePort } from './service-fields.js';

export type AllocatorOptions = {
  ipRange: ServiceIPRange;
  nodePortRange: PortRange;
  /** The Service as stored now, if it still is (to give back only what nothing uses). */
  lookup?: (owner: Owner) => Promise<KObject | undefined>;
  /** [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
  log?: (message: string) => void;
};

/**
 * CAS losses in a row a dynamic pick accepts (each means another API server
 * took that value a moment earlier) before answering 503, to retry.
 */
const MAX_PICKS = 32;

export function ownerOf(svc: KObject): Owner {
  const m = svc.metadata ?? {};
  return { namespace: m.namespace ?? '', name: m.name ?? '', uid: m.uid ?? '' };
}

export class ServiceAllocator {
  /** Keys being claimed by requests of this process: a concurrent pick skips them. */
  private readonly pending = new Set<string>();
  private readonly ipBand: number;
  private readonly portBand: number;
  readonly random: () => number;
  private readonly log: (message: string) => void;

  constructor(
    readonly bucket: AllocationsBucket,
    private readonly opts: AllocatorOptions,
  ) {
    this.ipBand = staticBand(opts.ipRange.size, IP_BAND);
    this.portBand = staticBand(this.portCount, NODE_PORT_BAND);
    this.random = opts.random ?? Math.random;
    this.log = opts.log ?? ((m) => console.error(m));
  }

  /** Stops the bucket's local view. */
  async stop(): Promise<void> {
    await this.bucket.stop();
  }

  get ipRange(): ServiceIPRange {
    return this.opts.ipRange;
  }

  get nodePortRange(): PortRange {
    return this.opts.nodePortRange;
  }

  private get portCount(): number {
    return this.opts.nodePortRange.max - this.opts.nodePortRange.min + 1;
  }

  /** The bucket keys a stored Service holds. */
  keysOf(svc: KObject): string[] {
    const ip = clusterIPOf(svc);
    return [...new Set([...(ip ? [ipKey(ip)] : []), ...nodePortsOf(svc).map((p) => nodePortKey(p.port))])];
  }

  /** Whether a value of the Service lies in the configured ranges (repair records only those). */
  inRange(key: string): boolean {
    const value = parseKey(key);
    if (!value) return false;
    if ('ip' in value) return this.ipRange.contains(value.ip);
    return value.nodePort >= this.nodePortRange.min && value.nodePort <= this.nodePortRange.max;
  }

  /**
   * Claims what `next` needs beyond what `old` holds (no `old` on create) and
   * fills in picked values. Returns the keys newly taken; a dry run takes
   * nothing and only checks against the local view.
   */
  async allocate(next: KObject, old: KObject | undefined, dryRun = false): Promise<string[]> {
    const tx = new Claims(this, this.bucket, ownerOf(next), dryRun);
    const had = new Set(old ? this.keysOf(old) : []);
    const e = new Errs();
    try {
      await this.allocateIP(next, had, tx, e);
      if (e.causes.length === 0) await this.allocateNodePorts(next, had, tx, e);
    } catch (err) {
      await this.giveBack(tx, old);
      throw err;
    }
    if (e.causes.length) {
      await this.giveBack(tx, old);
      throw errors.invalid('Service', next.metadata?.name ?? '', e.causes);
    }
    return tx.claimed;
  }

  /**
   * Gives back `keys` held by `owner` that `current` — the Service as stored
   * now, if it still is — does not use. Failures are logged: the repair loop
   * finds what is left.
   */
  async releaseUnused(owner: Owner, keys: string[], current?: KObject): Promise<void> {
    const keep = new Set(current && current.metadata?.uid === owner.uid ? this.keysOf(current) : []);
    await Promise.all(
      keys
        .filter((k) => !keep.has(k))
        .map((k) => this.bucket.release(k, owner.uid).catch((e) => this.log(`allocations: could not release ${k} of ${owner.namespace}/${owner.name}: ${(e as Error).message}`))),
    );
  }

  /** Is `key` taken as far as this process knows (held, or being claimed)? */
  taken(key: string): boolean {
    return this.pending.has(key) || this.bucket.peek(key) !== undefined;
  }

  /** Claims `key` while marking it pending, so that concurrent picks here skip it. */
  async claimPending<T>(key: string, claim: () => Promise<T>): Promise<T> {
    this.pending.add(key);
    try {
      return await claim();
    } finally {
      this.pending.delete(key);
    }
  }

  /**
   * Gives back what a failed allocation took. On update, a concurrent update
   * of the same Service may have been written with those values: what the
   * stored object uses stays, and when it cannot be read nothing is released
   * (the repair loop decides later).
   */
  private async giveBack(tx: Claims, old: KObject | undefined): Promise<void> {
    if (tx.claimed.length === 0) return;
    let current: KObject | undefined;
    if (old && this.opts.lookup) {
      try {
        current = await this.opts.lookup(tx.owner);
      } catch {
        return;
      }
    }
    await this.releaseUnused(tx.owner, tx.claimed, current);
  }

  private async allocateIP(svc: KObject, had: Set<string>, tx: Claims, e: Errs): Promise<void> {
    if (!needsClusterIP(svc)) return;
    const range = this.ipRange;
    const requested = clusterIPOf(svc);
    if (requested) {
      if (had.has(ipKey(requested))) return;
      if (!range.contains(requested)) {
        e.invalid('spec.clusterIPs', requested, `provided IP is not in the valid range. The range of valid IPs is ${range.cidr}`);
      } else if ((await tx.claim(ipKey(requested))).outcome === 'taken') {
        e.invalid('spec.clusterIPs', requested, 'provided IP is already allocated');
      }
      return;
    }
    if ((svc.spec as { clusterIP?: string } | undefined)?.clusterIP === 'None') return;
    const offset = await tx.pick(range.size, this.ipBand, (o) => ipKey(range.ipAt(o)));
    if (offset === undefined) {
      throw errors.internal(`failed to allocate a serviceIP: range is full: every address of ${range.cidr} is allocated; delete unused Services or widen --service-cluster-ip-range`);
    }
    setClusterIP(svc, range.ipAt(offset));
  }

  private async allocateNodePorts(svc: KObject, had: Set<string>, tx: Claims, e: Errs): Promise<void> {
    for (const use of nodePortsOf(svc)) {
      const key = nodePortKey(use.port);
      if (had.has(key)) continue;
      if ((await tx.claim(key)).outcome === 'taken') e.invalid(`spec.ports[${use.index}].nodePort`, use.port, 'provided port is already allocated');
    }
    if (e.causes.length) return;
    const { min } = this.nodePortRange;
    const ports = ((svc.spec as { ports?: { port?: number; protocol?: string; nodePort?: number }[] }).ports ?? []);
    // As Kubernetes does, ports of one number but other protocols (53/TCP, 53/UDP) share a node port where they can.
    const byPort = new Map(ports.filter((p) => (p.nodePort ?? 0) > 0).map((p) => [p.port, p.nodePort!]));
    for (const index of portsWanting(svc)) {
      const p = ports[index]!;
      const shared = byPort.get(p.port);
      if (shared && (await tx.claim(nodePortKey(shared))).outcome !== 'taken') {
        setNodePort(svc, index, shared);
        continue;
      }
      const offset = await tx.pick(this.portCount, this.portBand, (o) => nodePortKey(min + o));
      if (offset === undefined) {
        throw errors.internal(`failed to allocate a nodePort: range is full: every port of ${min}-${this.nodePortRange.max} is allocated; delete unused NodePort Services or widen --service-node-port-range`);
      }
      setNodePort(svc, index, min + offset);
      byPort.set(p.port, min + offset);
    }
  }
}

/** The claims of one allocation: what it took, to give back if it fails. */
class Claims {
  readonly claimed: string[] = [];

  constructor(
    private readonly allocator: ServiceAllocator,
    private readonly bucket: AllocationsBucket,
    readonly owner: Owner,
    private readonly dryRun: boolean,
  ) {}

  /** Takes `key` (a dry run only looks at the local view). */
  async claim(key: string): Promise<{ outcome: 'claimed' | 'held' | 'taken' }> {
    if (this.dryRun) {
      const holder = this.bucket.peek(key);
      return { outcome: holder && holder.owner.uid !== this.owner.uid ? 'taken' : 'claimed' };
    }
    const c = await this.allocator.claimPending(key, () => this.bucket.claim(key, this.owner));
    if (c.outcome === 'claimed') this.claimed.push(key);
    return c;
  }

  /** A free offset, taken: random start, skipping values held or being claimed; undefined when none is free. */
  async pick(size: number, band: number, keyAt: (offset: number) => string): Promise<number | undefined> {
    const tried = new Set<number>();
    for (let attempt = 0; attempt < MAX_PICKS; attempt++) {
      const offset = pickFree(size, (o) => tried.has(o) || this.allocator.taken(keyAt(o)), band, this.allocator.random);
      if (offset === undefined) return undefined;
      tried.add(offset);
      if ((await this.claim(keyAt(offset))).outcome !== 'taken') return offset;
    }
    throw errors.unavailable(`could not allocate a value for Service ${this.owner.namespace}/${this.owner.name}: ${MAX_PICKS} picks in a row were taken by other API servers first; retry`);
  }
}
