/**
 * Where the registry's writes meet the Service allocator: a Service's cluster
 * IP and node ports are claimed before it is written, given back if the write
 * fails, and released once they are dropped by an update or the Service has
 * left the store. Other kinds, and status writes, pass through untouched.
 */
import type { KObject, ResourceInfo } from '../../lib/api/resources.js';
import type { Store } from '../../lib/store/index.js';
import { ownerOf, prepareServiceUpdate, type ServiceAllocator } from '../allocation/index.js';

/** What one write took: undo it if the write failed, finish it once it landed. */
export type Taken = {
  undo(): Promise<void>;
  done(): Promise<void>;
};

const NOTHING: Taken = { undo: async () => undefined, done: async () => undefined };

export class ServiceAllocations {
  constructor(
    private readonly store: Store,
    readonly allocator?: ServiceAllocator,
  ) {}

  private applies(resource: ResourceInfo, subresource?: string): this is { allocator: ServiceAllocator } {
    return resource.kind === 'Service' && !subresource && !!this.allocator;
  }

  /** Update strategy: values the client left out are kept, values the new type drops are cleared. */
  prepareUpdate(resource: ResourceInfo, next: KObject, old: KObject, subresource?: string): void {
    if (resource.kind === 'Service' && !subresource) prepareServiceUpdate(next, old);
  }

  /**
   * Claims what `next` needs beyond `old` (none on create), setting picked
   * values on `next`; 422 when a requested value is taken or out of range.
   */
  async take(resource: ResourceInfo, next: KObject, old: KObject | undefined, opts: { dryRun?: boolean; subresource?: string } = {}): Promise<Taken> {
    if (!this.applies(resource, opts.subresource)) return NOTHING;
    const allocator = this.allocator;
    const claimed = await allocator.allocate(next, old, opts.dryRun);
    const owner = ownerOf(next);
    return {
      undo: () => this.releaseUnlessStored(resource, owner, claimed),
      done: async () => {
        const dropped = old ? allocator.keysOf(old).filter((k) => !allocator.keysOf(next).includes(k)) : [];
        await this.releaseUnlessStored(resource, owner, dropped);
      },
    };
  }

  /** The object has left the store: everything it held goes back. */
  async removed(resource: ResourceInfo, obj: KObject): Promise<void> {
    if (!this.applies(resource)) return;
    await this.allocator.releaseUnused(ownerOf(obj), this.allocator.keysOf(obj));
  }

  /**
   * Releases `keys` except those the Service as stored now uses (a concurrent
   * update may have been written with them). When the store cannot be read,
   * nothing is released: the repair loop decides later.
   */
  private async releaseUnlessStored(resource: ResourceInfo, owner: ReturnType<typeof ownerOf>, keys: string[]): Promise<void> {
    if (!keys.length || !this.allocator) return;
    let current: KObject | undefined;
    try {
      current = await this.store.get(resource, owner.namespace, owner.name);
    } catch {
      return;
    }
    await this.allocator.releaseUnused(owner, keys, current);
  }
}
