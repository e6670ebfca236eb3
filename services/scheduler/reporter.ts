/**
 * What the scheduler tells users about a pod: the `Scheduled` and
 * `FailedScheduling` Events, and the pod's PodScheduled condition set False
 * with reason Unschedulable (through /status, as kube-scheduler does), so that
 * `kubectl describe pod` says why it is Pending.
 *
 * Neither may flood the API: the condition is written only when it changes;
 * a repeated FailedScheduling (same pod, same message) is recorded at most once
 * per `repeatMs` — and the recorder folds repeats into one Event with a count.
 */
import type { KObject } from '../lib/api/resources.js';
import type { KeelsonClient } from '../lib/client/index.js';
import { EventRecorder } from '../lib/events/index.js';

export type ReporterOptions = {
  client: KeelsonClient;
  /** source.component / reportingController of the Events. */
  component: string;
  /** Same FailedScheduling for a pod at most this often. Default 30 s. */
  repeatMs?: number;
  /** Event writes in flight at most; an Event beyond is dropped (and counted). */
  eventsInFlight?: number;
  log: (message: string) => void;
};

type PodCondition = { type?: string; status?: string; reason?: string; message?: string; lastTransitionTime?: string };

const MAX_REMEMBERED = 10_000;

export class Reporter {
  private readonly recorder: EventRecorder;
  /** Pod key → the last FailedScheduling recorded for it. */
  private readonly lastFailure = new Map<string, { message: string; at: number }>();
  private readonly writes = new Set<Promise<unknown>>();
  /** Events the recorder dropped because too many writes were in flight. */
  eventsDropped = 0;

  constructor(private readonly opts: ReporterOptions) {
    this.recorder = new EventRecorder({
      client: opts.client,
      component: opts.component,
      maxInFlight: opts.eventsInFlight,
      log: (m) => {
        // Drops come in storms: counted (stats) and said once per thousand.
        if (!m.startsWith('events: dropped')) return opts.log(m);
        if (this.eventsDropped++ % 1_000 === 0) opts.log(`scheduler: ${m}; ${this.eventsDropped} dropped so far`);
      },
    });
  }

  scheduled(pod: KObject, node: string): void {
    const meta = pod.metadata ?? {};
    this.lastFailure.delete(`${meta.namespace}/${meta.name}`);
    this.recorder.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${meta.namespace}/${meta.name} to ${node}`);
  }

  /** No node fits: the Event (rate-limited) and the PodScheduled condition (when it changes). */
  unschedulable(pod: KObject, message: string): void {
    this.failedEvent(pod, message);
    this.setCondition(pod, message);
  }

  /** The binding failed: an Event only (the pod is tried again after its back-off). */
  bindingFailed(pod: KObject, message: string): void {
    this.failedEvent(pod, `Binding rejected: ${message}`);
  }

  /** The pod is gone: nothing more to say about it. */
  forget(key: string): void {
    this.lastFailure.delete(key);
  }

  /** Resolves once the writes under way are done. */
  async flush(): Promise<void> {
    await Promise.all([...this.writes]);
    await this.recorder.flush();
  }

  private failedEvent(pod: KObject, message: string): void {
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const now = Date.now();
    const last = this.lastFailure.get(key);
    if (last && last.message === message && now - last.at < (this.opts.repeatMs ?? 30_000)) return;
    if (!last && this.lastFailure.size >= MAX_REMEMBERED) this.lastFailure.delete(this.lastFailure.keys().next().value!);
    this.lastFailure.set(key, { message, at: now });
    this.recorder.event(pod, 'Warning', 'FailedScheduling', message);
  }

  private setCondition(pod: KObject, message: string): void {
    const conditions = ((pod.status as { conditions?: PodCondition[] } | undefined)?.conditions ?? []) as PodCondition[];
    const old = conditions.find((c) => c.type === 'PodScheduled');
    if (old?.status === 'False' && old.reason === 'Unschedulable' && old.message === message) return;
    const meta = pod.metadata ?? {};
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const patch = {
      // The uid makes the write fail rather than land on a pod recreated under the same name.
      metadata: { uid: meta.uid },
      status: {
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message,
            lastProbeTime: null,
            lastTransitionTime: old?.status === 'False' && old.lastTransitionTime ? old.lastTransitionTime : now,
          },
        ],
      },
    };
    const write = this.opts.client
      .patch('pods', meta.namespace, meta.name!, 'strategic', patch, 'status')
      .catch((e: Error) => this.opts.log(`scheduler: could not set PodScheduled on ${meta.namespace}/${meta.name}: ${e.message}`));
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }
}
