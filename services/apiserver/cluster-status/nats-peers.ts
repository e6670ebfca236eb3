/**
 * The NATS part of the report: the server a connection is on, and the
 * JetStream peers as the account's streams see them. There is no account-level
 * view of the meta cluster without the system account, but every replicated
 * stream's leader reports its followers (current, lag, last heard from), and
 * the union of those is the set of peers holding Keelson's state.
 */
import { jetstreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { NatsPeer, NatsSection, NatsServerInfo, StreamStatus } from './report.js';

export async function gatherNats(nc: NatsConnection, timeoutMs: number): Promise<NatsSection> {
  const server = serverInfo(nc);
  const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
  const infos: StreamInfo[] = [];
  for await (const si of jsm.streams.list()) infos.push(si);
  return natsSection(server, infos);
}

function serverInfo(nc: NatsConnection): NatsServerInfo | undefined {
  const i = nc.info;
  if (!i) return undefined;
  return { name: i.server_name, id: i.server_id, version: i.version, ...(i.cluster ? { cluster: i.cluster } : {}), host: i.host, port: i.port, jetstream: !!i.jetstream };
}

/**
 * The section from the stream infos (pure). Without cluster info the server
 * is not clustered: it is the only peer and leads every stream.
 */
export function natsSection(server: NatsServerInfo | undefined, infos: StreamInfo[]): NatsSection {
  const clustered = infos.some((si) => si.cluster?.leader || si.cluster?.replicas?.length) || !!server?.cluster;
  const single = !clustered ? server?.name : undefined;
  const streams = infos.map((si) => streamStatus(si, single)).sort((a, b) => a.name.localeCompare(b.name));
  const peers = foldPeers(streams);
  if (single && !peers.length) peers.push({ name: single, current: true, offline: false, lag: 0, leads: 0, streams: 0 });
  return { ...(server ? { server } : {}), clustered, peers, streams };
}

function streamStatus(si: StreamInfo, single: string | undefined): StreamStatus {
  const leader = si.cluster?.leader ?? single;
  return {
    name: si.config.name,
    replicas: si.config.num_replicas || 1,
    ...(leader ? { leader } : {}),
    followers: (si.cluster?.replicas ?? [])
      .map((p) => ({ name: p.name, current: !!p.current, offline: !!p.offline, activeMs: Math.round(Number(p.active ?? 0) / 1e6), lag: Number(p.lag ?? 0) }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    messages: Number(si.state?.messages ?? 0),
  };
}

/** Every peer named by a stream, with the worst any stream says of it. */
function foldPeers(streams: StreamStatus[]): NatsPeer[] {
  const peers = new Map<string, NatsPeer>();
  const peer = (name: string) => {
    let p = peers.get(name);
    if (!p) peers.set(name, (p = { name, current: true, offline: false, lag: 0, leads: 0, streams: 0 }));
    p.streams++;
    return p;
  };
  for (const s of streams) {
    if (s.leader) peer(s.leader).leads++;
    for (const f of s.followers) {
      const p = peer(f.name);
      p.current &&= f.current;
      p.offline ||= f.offline;
      p.lag = Math.max(p.lag, f.lag);
      p.activeMs = Math.max(p.activeMs ?? 0, f.activeMs);
    }
  }
  return [...peers.values()].sort((a, b) => a.name.localeCompare(b.name));
}
