/**
 * One informer per resource for a whole component: the controller-manager's
 * controllers all read pods, and one watch and one cache serve them all.
 */
import type { KeelsonClient } from '../client/index.js';
import type { Informer } from './index.js';

export class SharedInformers {
  private readonly started = new Map<string, Promise<Informer>>();
  private stopped = false;

  constructor(private readonly client: KeelsonClient) {}

  /** The started, synced informer for a resource (plural, kind or short name), made on first use. */
  get(resource: string): Promise<Informer> {
    if (this.stopped) return Promise.reject(new Error('shared informers are stopped'));
    let inf = this.started.get(resource);
    if (!inf) {
      inf = this.client.informer(resource);
      this.started.set(resource, inf);
      inf.catch(() => this.started.delete(resource));
    }
    return inf;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.started.values()];
    this.started.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.stop()));
  }
}
