/**
 * Where `keelson status` gets its report: an API server over HTTP (a URL, or
 * the current-context server of a kubeconfig), or NATS directly.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { clusterStatus, CLUSTER_STATUS_PATH, type ClusterStatus } from '../apiserver/cluster-status/index.js';
import { ApiError, type WireStatus } from '../lib/errors/index.js';
import { fetchText, type Answer } from '../lib/fetch/index.js';
import { connectNats, natsServers } from '../lib/nats/index.js';

type Named<T> = { name?: string } & T;
type Kubeconfig = {
  'current-context'?: string;
  contexts?: Named<{ context?: { cluster?: string } }>[];
  clusters?: Named<{ cluster?: { server?: string } }>[];
};

/** The API server of a kubeconfig's current context, as kubectl would pick it. */
export function kubeconfigServer(file: string): string {
  let config: Kubeconfig;
  try {
    config = (parse(readFileSync(file, 'utf8')) ?? {}) as Kubeconfig;
  } catch (e) {
    throw new Error(`cannot read the kubeconfig ${file}: ${(e as Error).message}`);
  }
  const current = config['current-context'];
  if (!current) throw new Error(`the kubeconfig ${file} has no current-context`);
  const context = config.contexts?.find((c) => c.name === current)?.context;
  if (!context?.cluster) throw new Error(`the kubeconfig ${file} has no context "${current}" with a cluster`);
  const server = config.clusters?.find((c) => c.name === context.cluster)?.cluster?.server;
  if (!server) throw new Error(`the kubeconfig ${file} has no server for cluster "${context.cluster}"`);
  return server;
}

/** GET <server>/keelson/v1/status; a Status answer becomes the ApiError it says. */
export async function fetchStatus(server: string, timeoutMs = 15_000): Promise<ClusterStatus> {
  const url = server.replace(/\/+$/, '') + CLUSTER_STATUS_PATH;
  let res: Answer;
  try {
    res = await fetchText(url, { headers: { accept: 'application/json' } }, timeoutMs);
  } catch (e) {
    const why = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
    throw new Error(`could not reach the API server at ${url}: ${why}`);
  }
  const text = res.text;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url} answered HTTP ${res.status} with something that is not JSON: ${text.slice(0, 200)}`);
  }
  if ((body as { kind?: string }).kind === 'Status' || res.status < 200 || res.status > 299) throw ApiError.fromStatus({ code: res.status, ...(body as WireStatus) });
  if ((body as { kind?: string }).kind !== 'ClusterStatus') throw new Error(`${url} did not answer with a ClusterStatus (is it a Keelson API server?)`);
  return body as ClusterStatus;
}

/** Gathers the report here, over a connection of our own to NATS. */
export async function gatherOverNats(nats: string | undefined, storeBucket?: string): Promise<ClusterStatus> {
  const servers = natsServers(nats);
  let nc;
  try {
    nc = await connectNats(servers, 'keelson-cli-status', { waitForServer: false });
  } catch (e) {
    throw new Error(`could not connect to NATS at ${servers.join(',')}: ${(e as Error).message}`);
  }
  try {
    return await clusterStatus(nc, { storeBucket });
  } finally {
    await nc.close().catch(() => undefined);
  }
}
