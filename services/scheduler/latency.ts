/**
 * Latency figures for /metrics and the benchmark: every sample counted, the
 * percentiles over the most recent ones (a fixed ring, so memory stays flat).
 */
export type LatencySummary = { count: number; sumMs: number; p50Ms: number; p99Ms: number; maxMs: number };

export class LatencyWindow {
  private readonly ring: Float64Array;
  private next = 0;
  private filled = 0;
  private count = 0;
  private sum = 0;
  private max = 0;

  constructor(size = 4_096) {
    this.ring = new Float64Array(size);
  }

  add(ms: number): void {
    this.ring[this.next] = ms;
    this.next = (this.next + 1) % this.ring.length;
    this.filled = Math.min(this.filled + 1, this.ring.length);
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  summary(): LatencySummary {
    const recent = this.ring.slice(0, this.filled).sort();
    const at = (p: number) => (recent.length ? recent[Math.min(recent.length - 1, Math.ceil((p / 100) * recent.length) - 1)]! : 0);
    return { count: this.count, sumMs: this.sum, p50Ms: at(50), p99Ms: at(99), maxMs: this.max };
  }
}
