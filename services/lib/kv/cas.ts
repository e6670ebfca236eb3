/**
 * Compare-and-swap on JetStream KV, as every bucket Keelson writes with
 * preconditions uses it (elections, allocations): what a lost race looks like,
 * and how long a create on a replicated bucket must still hold before it counts.
 */
import { JetStreamApiError } from '@nats-io/jetstream';

/** JetStream's "wrong last sequence": a create or a compare-and-swap lost. */
const WRONG_LAST_SEQUENCE = [10071, 10164];

export function isCasFailure(e: unknown): boolean {
  return e instanceof JetStreamApiError && WRONG_LAST_SEQUENCE.includes(e.code);
}

/**
 * nats-server before 2.9.21 checks a write's expected revision before raft, not
 * as part of it (nats-server#4320): on a replicated bucket, concurrent creates
 * after a deletion can all be acknowledged, the last one applied winning (seen
 * on 2.9.10: two of three in 61 of 200 rounds; six racing claims, more than one
 * acknowledged in 92 of 100). So on R3 a create counts only if, this long later,
 * the key still holds it: writes that raced it were already in raft's log when
 * it was applied, and land well within this. R1 needs no check: a single server
 * orders the check and the write.
 */
export const CONFIRM_AFTER_MS = 25;
