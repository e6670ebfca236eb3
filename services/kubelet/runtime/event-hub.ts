/**
 * A set of event listeners: what every runtime's `events()` hands out. A listener
 * that throws is reported and kept; the others still get the event.
 */
import type { RuntimeEvent, RuntimeEventListener, Unsubscribe } from './types.js';

export class EventHub {
  private readonly listeners = new Set<RuntimeEventListener>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  get size(): number {
    return this.listeners.size;
  }

  subscribe(listener: RuntimeEventListener): Unsubscribe {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(event: RuntimeEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}

/** RFC 3339 with milliseconds, the form runtime events and statuses use. */
export function nowRfc3339(): string {
  return new Date().toISOString();
}
