/**
 * kubectl's human-readable durations (the AGE, LAST SEEN and RESTARTS "ago" cells).
 * Precision drops as the duration grows: `45s`, `3m20s`, `15m`, `4h10m`, `20h`,
 * `2d3h`, `400d`, `2y30d`, `9y`.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Formats a duration given in milliseconds the way kubectl does. */
export function humanDuration(ms: number): string {
  // Go truncates towards zero when turning a duration into whole seconds.
  const seconds = Math.trunc(ms / SECOND);
  // Up to a second of clock skew between machines still reads as "now".
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 2 * 60) return `${seconds}s`;

  const minutes = Math.floor(ms / MINUTE);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 3 * 60) return `${minutes}m`;

  const hours = Math.floor(ms / HOUR);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;

  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${days}d` : `${days}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${days}d`;

  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) {
    const d = days % 365;
    return d === 0 ? `${years}y` : `${years}y${d}d`;
  }
  return `${years}y`;
}

/**
 * The time elapsed since an RFC 3339 timestamp, as kubectl prints it;
 * `<unknown>` when the timestamp is missing or unparsable.
 */
export function age(timestamp: unknown, now: Date): string {
  const t = parseTime(timestamp);
  if (t === undefined) return '<unknown>';
  return humanDuration(now.getTime() - t);
}

/** Milliseconds since the epoch, or undefined for a missing/zero/bad timestamp. */
export function parseTime(timestamp: unknown): number | undefined {
  if (typeof timestamp !== 'string' || timestamp === '') return undefined;
  const t = Date.parse(timestamp);
  // Go's zero time (0001-01-01T00:00:00Z) means "unset".
  if (Number.isNaN(t) || new Date(t).getUTCFullYear() <= 1) return undefined;
  return t;
}
