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
 * delivered. No answer from the consumer ends the watch at once; "consumer
 * not found", or a change the watch should have had while it made no
 * progress, twice in a row, end it too, and so do five checks in a row with
 * no progress whose question about missed changes went unanswered (an open
 * question is followed up every period, alarm or not; the consumer's own pending and
 * delivered counts are not trusted: its delivered sequence runs past the
 * other keys' messages it skips). The watch's owner then resumes from the
 * last revision it saw (the informer does). A needless resume costs one
 * consumer and loses no event.
 */
import { JetStreamApiError } from '@nats-io/jetstream';
import { within } from './retry.js';

/** JetStream's "consumer not found". */
const CONSUMER_NOT_FOUND = 10014;

/** How often a watch is checked, and after how many failed checks in a row it is given up. */
export const WATCHDOG_MS = 2_000;
const WATCHDOG_STRIKES = 2;
/** No progress and no answer about missed changes this many checks in a row: given up too (a resume costs one consumer). */
const UNANSWERED_LIMIT = 5;

export type Watched = {
  /** Answers while the consumer lives (its info; what it says is not used, see above). */
  info(): Promise<unknown>;
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
  let unanswered = 0;
  let asking = false;
  let seen = watched.lastSeq();
  let quietTicks = Math.floor(Math.random() * quietEvery);
  const strike = () => {
    if (++strikes < WATCHDOG_STRIKES) return;
    clearInterval(timer);
    end();
  };
  const check = async () => {
    // An open question (a strike, an unanswered check) is followed up every period, alarm or not.
    if (watched.alert && !watched.alert() && strikes === 0 && unanswered === 0 && ++quietTicks % quietEvery !== 0) {
      seen = watched.lastSeq();
      return;
    }
    const before = seen;
    try {
      await within(watched.info(), periodMs);
    } catch (e) {
      // Its server does not answer within a period: nothing more will come from
      // it (after a failover a new consumer can even be placed on the dead
      // server). "Not found" may be nats.js re-creating an ordered consumer: a strike.
      if (!(e instanceof JetStreamApiError && e.code === CONSUMER_NOT_FOUND)) strikes = WATCHDOG_STRIKES;
      return strike();
    }
    seen = watched.lastSeq();
    if (seen !== before) return void (strikes = unanswered = 0);
    // No progress. Whatever the consumer says (its delivered sequence runs past
    // the other keys' messages it skips), the stream leader tells whether a
    // change under the filter was missed. No answer (an election) tells nothing.
    const next = await within(watched.firstMissed(), periodMs).catch(() => null);
    if (next === null) {
      if (++unanswered < UNANSWERED_LIMIT) return;
      strikes = WATCHDOG_STRIKES;
      return strike();
    }
    unanswered = 0;
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
