/**
 * The cluster status report: what `keelson status` prints and what
 * `GET /keelson/v1/status` serves. Plain JSON: every age is computed on the
 * gatherer's clock at `time`, so a reader never compares clocks of its own.
 * Each section gathers on its own; one that failed carries `error` and is
 * otherwise empty, the others still tell what they saw.
 */
import type { Election } from '../../lib/leader-election/index.js';

/** The non-resource path the API server serves the report on (read it with `kubectl get --raw`). */
export const CLUSTER_STATUS_PATH = '/keelson/v1/status';

export type ClusterStatus = {
  kind: 'ClusterStatus';
  apiVersion: 'keelson.io/v1';
  /** When it was gathered (RFC 3339), on the gatherer's clock. */
  time: string;
  /** Who gathered it: an API server (served over HTTP) or the CLI itself over NATS. */
  source: StatusSource;
  masters: MastersSection;
  nats: NatsSection;
  leaders: LeadersSection;
  nodes: NodesSection;
};

export type StatusSource = {
  via: 'apiserver' | 'nats';
  hostname: string;
  /** The API server's address:port that answered, when via the API server. */
  apiserver?: string;
};

/** A section that could not be gathered says why in `error` (and is otherwise empty). */
type Section = { error?: string };

/** The live API servers: the records of the TTL bucket behind the `default/kubernetes` Endpoints. */
export type MastersSection = Section & {
  /** The bucket's TTL: a master not seen for this long is gone from the list. */
  leaseMs: number;
  items: Master[];
};

export type Master = {
  hostname: string;
  address: string;
  port: number;
  /** As the API server wrote it (its own clock). */
  renewTime: string;
  /** Since the record was last written (the NATS server's stamp). */
  lastSeenAgoMs: number;
};

export type NatsSection = Section & {
  /** The NATS server this connection is on. */
  server?: NatsServerInfo;
  /** False on a single nats-server: then it alone holds and leads every stream. */
  clustered: boolean;
  /** Every JetStream peer any stream names, as the streams see it. */
  peers: NatsPeer[];
  streams: StreamStatus[];
};

export type NatsServerInfo = {
  name: string;
  id: string;
  version: string;
  /** The NATS cluster's name; absent on a single server. */
  cluster?: string;
  host: string;
  port: number;
  jetstream: boolean;
};

/** One server of the JetStream cluster, folded over the streams it takes part in. */
export type NatsPeer = {
  name: string;
  /** Up to date in every stream it follows (a leader is current by definition). */
  current: boolean;
  /** Some stream's group considers it offline. */
  offline: boolean;
  /** The most uncommitted operations it is behind a leader, over its streams. */
  lag: number;
  /** The longest time since a leader last heard from it, over its streams (undefined where it leads all). */
  activeMs?: number;
  /** How many streams it leads, and how many it is a member of. */
  leads: number;
  streams: number;
};

export type StreamStatus = {
  name: string;
  replicas: number;
  /** The server that leads the stream's RAFT group (on a single server: that server). */
  leader?: string;
  /** The other members, as the leader sees them. */
  followers: StreamFollower[];
  messages: number;
};

export type StreamFollower = { name: string; current: boolean; offline: boolean; activeMs: number; lag: number };

/** The elections bucket: who leads the scheduler and the controller-manager. */
export type LeadersSection = Section & { leaseMs: number; items: Election[] };

export type NodesSection = Section & { items: NodeStatus[] };

export type NodeStatus = {
  name: string;
  /** The Ready condition's status; `Unknown` when the node has none yet. */
  ready: 'True' | 'False' | 'Unknown';
  reason?: string;
  unschedulable: boolean;
  /** The heartbeat Lease in kube-node-lease, when there is one. */
  lease?: { holderIdentity?: string; renewTime: string; renewedAgoMs: number };
};
