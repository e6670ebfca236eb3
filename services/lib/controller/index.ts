/**
 * What every controller is built from: a work queue that never gives one key to
 * two workers, a controller runner that retries failed syncs with a per-key
 * back-off, and expectations that keep a controller from acting twice on changes
 * its informers have not seen yet.
 */
export { Controller, keyOf, splitKey, type ControllerOptions, type ControllerStats, type SyncResult } from './controller.js';
export { Expectations, EXPECTATIONS_TIMEOUT_MS } from './expectations.js';
export { DEFAULT_RATE_LIMIT, WorkQueue, type RateLimit } from './work-queue.js';
