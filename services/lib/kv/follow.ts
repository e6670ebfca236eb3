/**
 * Following a KV bucket (elections, allocations, API servers): a watch (current
 * values first, then every write and deletion) that starts over after a NATS
 * reconnect or an unexpected end, so a follower never goes deaf for long. Replays repeat entries already
 * seen; consumers drop them by revision.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';

export type Follow = { stop(): Promise<void> };

export type FollowOptions = {
  /** One key, or every one (`>`). */
  key: string;
  /** Pause before watching again after a failure. */
  retryMs?: number;
  log?: (message: string) => void;
};

export function followKv(nc: NatsConnection, kv: KV, opts: FollowOptions, onEntry: (e: KvEntry) => void): Follow {
  let stopped = false;
  let current: { stop(): void } | undefined;
  let wake: (() => void) | undefined;
  let reconnected = false;
  const statuses = nc.status();
  void (async () => {
    for await (const s of statuses) {
      // The consumer behind the watch may be gone with the server we lost: start over.
      if (s.type === 'reconnect') {
        reconnected = true;
        current?.stop();
      }
    }
  })();
  const done = (async () => {
    while (!stopped && !nc.isClosed()) {
      try {
        const iter = await kv.watch({ key: opts.key });
        current = iter;
        if (stopped) iter.stop();
        for await (const e of iter) onEntry(e);
      } catch (e) {
        if (!stopped && !nc.isClosed()) opts.log?.(`watching ${opts.key} failed, retrying: ${(e as Error).message}`);
      }
      current = undefined;
      if (stopped || nc.isClosed()) break;
      if (reconnected) {
        reconnected = false;
        continue;
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, opts.retryMs ?? 100).unref();
      });
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      (statuses as { stop?(): void }).stop?.();
      current?.stop();
      wake?.();
      await done;
    },
  };
}
