/**
 * Docker's event stream, turned into runtime events. One `GET /events` stream
 * (NDJSON, filtered to containers with the Keelson labels of this runtime's node)
 * is open while anyone listens; when the engine drops it (restart), it is reopened from the time of
 * the last event seen, so nothing in between is lost (the engine replays recent
 * events), and the replay's duplicates are dropped.
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { EventHub } from './event-hub.js';
import { isOwned, Labels, managedFilter } from './labels.js';
import type { RuntimeEvent, RuntimeEventType } from './types.js';

type DockerEvent = {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
};

const ACTIONS: Record<string, RuntimeEventType> = { start: 'started', die: 'exited', oom: 'oom' };

export class DockerEvents {
  private stream?: Readable;
  private opening = false;
  private closed = false;
  private retryTimer?: NodeJS.Timeout;
  private retryMs = 500;
  /** Events before this time (ms) are not delivered: they happened before anyone listened, or were delivered already. */
  private cutoffMs = 0;
  /** Keys of the events delivered at exactly `cutoffMs`, to drop a replay's duplicates. */
  private seenAtCutoff = new Set<string>();

  constructor(
    private readonly docker: Docker,
    private readonly hub: EventHub,
    private readonly log: (message: string) => void,
    /** Only this node's containers; every node's when undefined. */
    private readonly nodeName?: string,
  ) {}

  /** Opens the stream when someone listens, closes it when nobody does. */
  demand(): void {
    if (this.closed) return;
    if (this.hub.size === 0) {
      this.stop();
      return;
    }
    if (this.stream || this.opening || this.retryTimer) return;
    if (this.cutoffMs === 0) this.cutoffMs = Date.now();
    void this.open();
  }

  close(): void {
    this.closed = true;
    this.stop();
  }

  private stop(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const s = this.stream;
    this.stream = undefined;
    s?.destroy();
    // A later listener must not get what happened while nobody listened.
    this.cutoffMs = 0;
    this.seenAtCutoff.clear();
  }

  private async open(): Promise<void> {
    this.opening = true;
    let stream: Readable;
    try {
      stream = (await this.docker.getEvents({
        // Whole seconds: the engine reads a fraction as nanoseconds.
        since: Math.floor(this.cutoffMs / 1000),
        filters: { type: ['container'], event: Object.keys(ACTIONS), label: managedFilter(this.nodeName) },
      })) as unknown as Readable;
    } catch (err) {
      this.opening = false;
      this.retryLater(err);
      return;
    }
    this.opening = false;
    if (this.closed || this.hub.size === 0) {
      stream.destroy();
      return;
    }
    this.stream = stream;
    this.retryMs = 500;
    let buffer = '';
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) this.onLine(line);
      }
    });
    const ended = (err?: Error) => {
      if (this.stream !== stream) return; // stopped on purpose
      this.stream = undefined;
      this.retryLater(err ?? new Error('the engine closed the event stream'));
    };
    stream.once('error', ended);
    stream.once('end', () => ended());
    stream.once('close', () => ended());
  }

  private retryLater(err: unknown): void {
    if (this.closed || this.hub.size === 0) return;
    this.log(`docker events: ${(err as Error)?.message ?? String(err)}; reconnecting in ${this.retryMs} ms`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.demand();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 10_000);
  }

  private onLine(line: string): void {
    let ev: DockerEvent;
    try {
      ev = JSON.parse(line) as DockerEvent;
    } catch {
      return;
    }
    const event = toRuntimeEvent(ev, this.nodeName);
    if (!event) return;
    const ms = ev.timeNano ? Math.floor(ev.timeNano / 1e6) : (ev.time ?? 0) * 1000;
    const key = `${event.id}/${ev.Action}/${ev.timeNano ?? ev.time}`;
    if (ms < this.cutoffMs || (ms === this.cutoffMs && this.seenAtCutoff.has(key))) return;
    if (ms > this.cutoffMs) {
      this.cutoffMs = ms;
      this.seenAtCutoff.clear();
    }
    this.seenAtCutoff.add(key);
    this.hub.emit(event);
  }
}

/** The runtime event for a Docker event of a managed container of `nodeName` (any node when undefined). */
export function toRuntimeEvent(ev: DockerEvent, nodeName?: string): RuntimeEvent | undefined {
  const type = ev.Action ? ACTIONS[ev.Action] : undefined;
  const attrs = ev.Actor?.Attributes;
  if (ev.Type !== 'container' || !type || !ev.Actor?.ID || !isOwned(attrs, nodeName)) return undefined;
  const ms = ev.timeNano ? Math.floor(ev.timeNano / 1e6) : (ev.time ?? 0) * 1000;
  const event: RuntimeEvent = {
    id: ev.Actor.ID,
    podUid: attrs![Labels.podUid]!,
    container: attrs![Labels.container]!,
    type,
    at: new Date(ms).toISOString(),
  };
  if (type === 'exited' && attrs!.exitCode !== undefined) event.exitCode = Number(attrs!.exitCode);
  return event;
}
