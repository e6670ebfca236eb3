/**
 * Choosing a free offset in a range, as Kubernetes' allocators do: the low
 * "static band" is kept for values users ask for by hand (a DNS service at
 * 10.96.0.10, a well-known node port), so a dynamic pick looks above it first
 * and falls back to it only when the rest is full. Inside a band the search
 * starts at a random offset and walks on, skipping taken ones, so that API
 * servers picking at the same moment seldom reach for the same value.
 */

/** Kubernetes' band sizes: size/16 clamped to 16..256 for IPs, size/32 to 16..128 for node ports. */
export type BandRule = { min: number; max: number; step: number };

export const IP_BAND: BandRule = { min: 16, max: 256, step: 16 };
export const NODE_PORT_BAND: BandRule = { min: 16, max: 128, step: 32 };

/** How many low offsets form the static band of a range of `size`. */
export function staticBand(size: number, rule: BandRule): number {
  if (size < rule.min) return 0;
  return Math.min(rule.max, Math.max(rule.min, Math.floor(size / rule.step)));
}

/**
 * A free offset in 0..size-1, or undefined when every one is taken.
 * `random` returns a number in [0, 1) (Math.random in production).
 */
export function pickFree(size: number, taken: (offset: number) => boolean, band: number, random: () => number = Math.random): number | undefined {
  const segments: [number, number][] = [
    [band, size],
    [0, Math.min(band, size)],
  ];
  for (const [from, to] of segments) {
    const length = to - from;
    if (length <= 0) continue;
    const start = Math.floor(random() * length);
    for (let i = 0; i < length; i++) {
      const offset = from + ((start + i) % length);
      if (!taken(offset)) return offset;
    }
  }
  return undefined;
}
