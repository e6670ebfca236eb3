/**
 * `keelson status`: what the control plane looks like from NATS. Today: the
 * leader of each election (scheduler, controller-manager), read from the
 * elections bucket — the lock itself, not its Lease mirror.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { ElectionsBucket, type Election } from '../lib/leader-election/index.js';

/** The elections every cluster has; others show up when they are held. */
export const KNOWN_ELECTIONS = ['kube-controller-manager', 'kube-scheduler'];

export async function statusReport(nc: NatsConnection, nowMs = Date.now()): Promise<string> {
  let held: Election[] = [];
  let leaseMs = 0;
  try {
    const bucket = await ElectionsBucket.open(nc, { bindOnly: true, timeoutMs: 3_000 });
    held = await bucket.list();
    leaseMs = bucket.leaseMs;
  } catch (e) {
    if (!/stream not found/i.test((e as Error).message)) throw e;
  }
  return `Leaders:\n${leadersTable(held, leaseMs, nowMs)}`;
}

/** One row per election: its holder, term, last renewal and time left on the lease. */
export function leadersTable(held: Election[], leaseMs: number, nowMs: number): string {
  const byName = new Map(held.map((e) => [e.election, e]));
  const names = [...new Set([...KNOWN_ELECTIONS, ...byName.keys()])].sort();
  const rows = names.map((name) => {
    const e = byName.get(name);
    if (!e) return [name, '<none>', '', '', ''];
    const left = e.createdMs + leaseMs - nowMs;
    return [name, e.holderIdentity, String(e.term), seconds(nowMs - e.createdMs) + ' ago', left > 0 ? seconds(left) : 'expired'];
  });
  const header = ['ELECTION', 'HOLDER', 'TERM', 'RENEWED', 'EXPIRES IN'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd()}`).join('\n') + '\n';
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}
