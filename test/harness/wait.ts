/**
 * Bounded polling for tests: every wait has a deadline and says what it waited
 * for when it gives up (with the last value seen).
 */
import { isNotFound } from '../../services/lib/errors/index.js';

export type UntilOptions = {
  /** Pause between probes (default 20 ms). */
  intervalMs?: number;
  /** An error the probe throws that only means "not yet" (default: none; it is thrown). */
  retryOn?: (e: unknown) => boolean;
};

/** Polls `probe` until it returns something other than undefined/false. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 5_000,
  opts: UntilOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      if (!opts.retryOn?.(e)) throw e;
      lastError = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
  }
}

/** Polls `get` until `ok(value)`; an error `retryOn` accepts (default: NotFound) counts as "not yet". */
export async function eventually<T>(
  what: string,
  get: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 8_000,
  opts: { retryOn?: (e: unknown) => boolean } = {},
): Promise<T> {
  const retryOn = opts.retryOn ?? isNotFound;
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    try {
      last = await get();
      if (ok(last)) return last;
    } catch (e) {
      if (!retryOn(e)) throw e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)?.slice(0, 600)}`);
}
