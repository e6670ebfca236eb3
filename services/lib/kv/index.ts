/** JetStream KV helpers shared by the buckets Keelson keeps besides the object store. */
export { CONFIRM_AFTER_MS, isCasFailure } from './cas.js';
export { followKv, type Follow, type FollowOptions } from './follow.js';
export { bucketKeys } from './keys.js';
