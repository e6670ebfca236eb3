/**
 * Writes pod status through the API's `/status` subresource: at most one write
 * in flight per pod, changes that arrive meanwhile coalesced into the next one,
 * nothing written when nothing changed. A merge patch carrying the pod's uid is
 * applied by the API server with compare-and-swap (retried there on conflict),
 * and never lands on a newer pod of the same name.
 */
import type { KeelsonClient } from '../../lib/client/index.js';
import { isNotFound } from '../../lib/errors/index.js';
import type { PodStatus } from '../../../statecharts/pod.machine.js';
import type { PodWorker } from './pod-worker.js';

type Stamped = Omit<PodStatus, 'conditions'> & {
  conditions: (PodStatus['conditions'][number] & { lastTransitionTime: string })[];
  hostIP: string;
  hostIPs: { ip: string }[];
};

type Slot = {
  worker: PodWorker;
  next?: PodStatus;
  written?: string;
  inFlight?: Promise<void>;
  /** When each condition last changed, by type. */
  since: Map<string, { status: string; at: string }>;
};

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class StatusWriter {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly client: KeelsonClient,
    private readonly hostIP: string,
    /** Told after each status the API accepted. */
    private readonly written: (worker: PodWorker, status: PodStatus) => void = () => undefined,
  ) {}

  write(worker: PodWorker, status: PodStatus): void {
    let slot = this.slots.get(worker.uid);
    if (!slot) this.slots.set(worker.uid, (slot = { worker, since: new Map() }));
    slot.next = status;
    this.kick(slot);
  }

  /**
   * Starts a drain unless one runs. It is marked done only once its promise has
   * settled (a drain with nothing to write ends without awaiting, before the
   * assignment), and a status that came in meanwhile starts the next one.
   */
  private kick(slot: Slot): void {
    if (slot.inFlight) return;
    slot.inFlight = this.drain(slot).finally(() => {
      slot.inFlight = undefined;
      if (slot.next) this.kick(slot);
    });
  }

  /** Resolves once the pending writes (of one pod, or all) are done. */
  async flush(uid?: string): Promise<void> {
    const slots = uid ? [this.slots.get(uid)] : [...this.slots.values()];
    await Promise.all(slots.map((s) => s?.inFlight));
    if (uid) this.slots.delete(uid);
  }

  private async drain(slot: Slot): Promise<void> {
    while (slot.next) {
      const status = this.stamp(slot, slot.next);
      slot.next = undefined;
      const json = JSON.stringify(status);
      if (json === slot.written) continue;
      try {
        await this.client.patch('pods', slot.worker.namespace, slot.worker.name, 'merge', { metadata: { uid: slot.worker.uid }, status }, 'status');
        slot.written = json;
      } catch (e) {
        if (isNotFound(e)) return;
        console.error(`kubelet: status of pod ${slot.worker.namespace}/${slot.worker.name} not written:`, (e as Error).message);
        continue;
      }
      this.written(slot.worker, status);
    }
  }

  /** Adds what the API shows beyond the machine's view: transition times, host IP. */
  private stamp(slot: Slot, s: PodStatus): Stamped {
    const conditions = s.conditions.map((c) => {
      const prev = slot.since.get(c.type);
      const at = prev && prev.status === c.status ? prev.at : now();
      slot.since.set(c.type, { status: c.status, at });
      return { ...c, lastTransitionTime: at };
    });
    return { ...s, conditions, hostIP: this.hostIP, hostIPs: [{ ip: this.hostIP }] };
  }
}
