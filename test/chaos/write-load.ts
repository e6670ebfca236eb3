/**
 * A steady load of API writes for the chaos tests: every `1000 / rate` ms a
 * Lease is created through the load balancer, each with a name of its own, so
 * that afterwards every acknowledged write can be looked for. Records what a
 * client sees: acknowledged writes (name → resourceVersion), failed requests
 * (the status or network error, and when), latencies, and the longest time no
 * write was acknowledged (the write stall). A client does not retry here: a
 * failure counts as one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchText, type TlsClientOptions } from '../../services/lib/fetch/index.js';

export type FailedWrite = { name: string; atMs: number; error: string };

export type LoadReport = {
  sent: number;
  acked: Map<string, string>;
  failed: FailedWrite[];
  /** Milliseconds from the first write. */
  durationMs: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** The longest time between two acknowledgements, and when it began (ms from the start). */
  stall: { ms: number; fromMs: number };
};

export type WriteLoad = {
  /** Acknowledged so far (a test waits for the load to be flowing). */
  ackedCount(): number;
  /** Failures so far. */
  failedCount(): number;
  /** Milliseconds since the load started. */
  elapsedMs(): number;
  /** When the last write was acknowledged, ms since the start (0: none yet). */
  lastAckMs(): number;
  /** Stops sending, waits for the writes in flight, and reports. */
  stop(): Promise<LoadReport>;
};

/** Where the load goes: the API's URL and how to be let in. */
export type ApiEndpoint = { url: string; tls?: TlsClientOptions };

export type WriteLoadOptions = {
  api: ApiEndpoint;
  namespace: string;
  /** Writes per second (default 50). */
  rate?: number;
  /** A write with no answer after this long counts as failed (default 30 s). */
  timeoutMs?: number;
  prefix?: string;
};

export function startWriteLoad(o: WriteLoadOptions): WriteLoad {
  const rate = o.rate ?? 50;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const prefix = o.prefix ?? 'load';
  const t0 = performance.now();
  const acked = new Map<string, string>();
  const ackTimes: number[] = [];
  const failed: FailedWrite[] = [];
  const latencies: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  let stopped = false;

  const write = async (name: string) => {
    const started = performance.now();
    try {
      const res = await createLease(o.api, o.namespace, name, prefix, timeoutMs);
      if (res.status !== 201) throw new Error(`HTTP ${res.status}: ${res.text.slice(0, 300)}`);
      const rv = (JSON.parse(res.text) as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
      if (!rv) throw new Error(`HTTP 201 without a resourceVersion: ${res.text.slice(0, 300)}`);
      acked.set(name, rv);
      const now = performance.now();
      ackTimes.push(now - t0);
      latencies.push(now - started);
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      failed.push({ name, atMs: started - t0, error: err.cause?.code ? `${err.message} (${err.cause.code})` : err.message });
    }
  };

  const loop = (async () => {
    const gap = 1000 / rate;
    while (!stopped) {
      const name = `${prefix}-${String(sent).padStart(6, '0')}`;
      sent++;
      const p = write(name).finally(() => inFlight.delete(p));
      inFlight.add(p);
      // Paced by the clock, not by the answers: a stall piles writes up instead of slowing the load.
      const next = t0 + sent * gap;
      await sleep(Math.max(0, next - performance.now()));
    }
  })();

  return {
    ackedCount: () => acked.size,
    failedCount: () => failed.length,
    elapsedMs: () => performance.now() - t0,
    lastAckMs: () => ackTimes.at(-1) ?? 0,
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all(inFlight);
      const durationMs = performance.now() - t0;
      const sorted = [...latencies].sort((a, b) => a - b);
      const pct = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
      const times = [...ackTimes].sort((a, b) => a - b);
      let stall = { ms: times[0] ?? durationMs, fromMs: 0 };
      for (let i = 1; i < times.length; i++) {
        const gap = times[i]! - times[i - 1]!;
        if (gap > stall.ms) stall = { ms: gap, fromMs: times[i - 1]! };
      }
      return { sent, acked, failed, durationMs, latencyMs: { p50: pct(0.5), p99: pct(0.99), max: sorted.at(-1) ?? NaN }, stall };
    },
  };
}

/** One Lease create through `api`: the answer's status and body. Rejects only when no answer came (network, timeout). */
export async function createLease(api: ApiEndpoint, namespace: string, name: string, holder: string, timeoutMs = 30_000): Promise<{ status: number; text: string }> {
  const { status, text } = await fetchText(
    `${api.url}/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: { holderIdentity: holder, leaseDurationSeconds: 3600 } }),
    },
    timeoutMs,
    api.tls,
  );
  return { status, text };
}

/** Acknowledged writes that are not in the store afterwards (by name), given the names the store lists. */
export function lostWrites(report: LoadReport, stored: Set<string>): string[] {
  return [...report.acked.keys()].filter((name) => !stored.has(name));
}
