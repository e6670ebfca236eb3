/**
 * The store watch's watchdog. Ends a watch whose consumer is gone, stuck or
 * silent:
 * - an ordered consumer lives on one server (R1); when that server dies the
 *   client only notices after two missed idle heartbeats, which nats.js fixes
 *   at 30 s each — a minute in which the watch looks alive and sees nothing;
 * - a push consumer whose messages or flow-control request were lost while the
 *   client reconnected exists but sends nothing we see;
 * - after a stream-leader election a consumer can answer that nothing is
 *   pending while the stream holds changes it never sent (seen about once in
 *   five failovers on nats-server 2.9.10).
 * While the store's alarm is raised (alarm.ts: after a reconnect, a stream
 * advisory, a change of the stream's leader or replicas) — else about once a
 * minute, and every 2 s after a failed check — it asks the consumer for its
 * info and, when nothing arrived since the last check, asks the stream's
 * leader for the first message under the watch's filter after the last one
 * delivered. "Consumer not found" or no answer from the consumer ends the
 * watch at once; messages pending or delivered beyond what arrived, or a
 * message the watch should have had — with no progress, twice in a row — end
 * it too, and the watch's owner resumes from
 * the last revision it saw (the informer does). A needless resume costs one
 * consumer and loses no event.
 */
import { within } from './retry.js';

/** How often a watch is checked, and after how many failed checks in a row it is given up. */
export const WATCHDOG_MS = 2_000;
const WATCHDOG_STRIKES = 2;

export type Watched = {
  /** The consumer's info, as the server hosting it sees it. */
  info(): Promise<{ num_pending: number; delivered: { stream_seq: number } }>;
  /** The newest stream sequence the watch has delivered (or started after). */
  lastSeq(): number;
  /** The stream leader's first message under the watch's filter after lastSeq, if any. */
  firstMissed(): Promise<number | undefined>;
  /** Whether the store's alarm is raised (alarm.ts): then every period is checked, else one in QUIET_EVERY. Default: always. */
  alert?(): boolean;
};

/** While the alarm is quiet, a watch still checks itself every QUIET_EVERY periods (about once a minute at 2 s), at a random phase. */
const QUIET_EVERY = 30;

/** Starts checking; `end` is called once, when the watch is given up. Clear the returned timer to stop. */
export function watchConsumer(watched: Watched, end: () => void, periodMs = WATCHDOG_MS, quietEvery = QUIET_EVERY): NodeJS.Timeout {
  let strikes = 0;
  let asking = false;
  let seen = watched.lastSeq();
  let quietTicks = Math.floor(Math.random() * quietEvery);
  const strike = () => {
    if (++strikes < WATCHDOG_STRIKES) return;
    clearInterval(timer);
    end();
  };
  const check = async () => {
    if (watched.alert && !watched.alert() && strikes === 0 && ++quietTicks % quietEvery !== 0) {
      seen = watched.lastSeq();
      return;
    }
    const before = seen;
    let info;
    try {
      info = await within(watched.info(), periodMs);
    } catch {
      // Gone ("consumer not found"), or its server does not answer within a
      // period: either way nothing more will come from it. (After a failover a
      // new consumer can even be placed on the dead server.)
      strikes = WATCHDOG_STRIKES;
      return strike();
    }
    seen = watched.lastSeq();
    if (seen !== before) return void (strikes = 0);
    if (info.num_pending > 0 || info.delivered.stream_seq > seen) return strike();
    // The consumer says it has sent everything: has it? No answer (an election) tells nothing.
    const next = await within(watched.firstMissed(), periodMs).catch(() => null);
    if (next === null) return;
    if (next !== undefined && watched.lastSeq() === seen) return strike();
    strikes = 0;
  };
  const timer = setInterval(() => {
    if (asking) return;
    asking = true;
    void check().finally(() => (asking = false));
  }, periodMs);
  timer.unref();
  return timer;
}
