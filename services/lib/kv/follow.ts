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
  /** Pause before watching again after a failure; it doubles while failures go on, up to 2 s. */
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
  const firstPause = opts.retryMs ?? 100;
  // Failures in a row: the first is logged, then only the recovery (a store
  // without a quorum fails every attempt, and would fill the log).
  let failures = 0;
  const done = (async () => {
    while (!stopped && !nc.isClosed()) {
      try {
        const iter = await kv.watch({ key: opts.key });
        current = iter;
        if (failures > 0) opts.log?.(`watching ${opts.key} again after ${failures} failed attempt(s)`);
        failures = 0;
        if (stopped) iter.stop();
        for await (const e of iter) onEntry(e);
      } catch (e) {
        if (!stopped && !nc.isClosed() && failures++ === 0) opts.log?.(`watching ${opts.key} failed, retrying: ${(e as Error).message}`);
      }
      current = undefined;
      if (stopped || nc.isClosed()) break;
      if (reconnected) {
        reconnected = false;
        continue;
      }
      const pause = Math.min(firstPause * 2 ** Math.max(0, failures - 1), Math.max(firstPause, 2_000));
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, pause).unref();
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
