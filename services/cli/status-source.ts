/**
 * Where `keelson status` gets its report: an API server over HTTP(S) (a URL,
 * or the current context of a kubeconfig, with its CA and credential), or NATS
 * directly.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { clusterStatus, CLUSTER_STATUS_PATH, type ClusterStatus } from '../apiserver/cluster-status/index.js';
import { ApiError, type WireStatus } from '../lib/errors/index.js';
import { fetchText, type Answer, type TlsClientOptions } from '../lib/fetch/index.js';
import { connectNats, type NatsTarget } from '../lib/nats/index.js';

type Named<T> = { name?: string } & T;
type Kubeconfig = {
  'current-context'?: string;
  contexts?: Named<{ context?: { cluster?: string; user?: string } }>[];
  clusters?: Named<{ cluster?: { server?: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }>[];
  users?: Named<{ user?: { token?: string; 'client-certificate-data'?: string; 'client-key-data'?: string; 'client-certificate'?: string; 'client-key'?: string } }>[];
};

/** Where and how to reach an API server: its URL, the CA to trust, and the credential to show. */
export type ApiTarget = { server: string; tls?: TlsClientOptions; token?: string };

/** The API server of a kubeconfig's current context, with its CA and the context user's credential, as kubectl would use them. */
export function kubeconfigTarget(file: string): ApiTarget {
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
  const cluster = config.clusters?.find((c) => c.name === context.cluster)?.cluster;
  const server = cluster?.server;
  if (!server) throw new Error(`the kubeconfig ${file} has no server for cluster "${context.cluster}"`);
  const user = config.users?.find((u) => u.name === context.user)?.user ?? {};
  // Inline data is base64 of the PEM; a path is read as it is (relative to the kubeconfig, as kubectl does).
  const pem = (data: string | undefined, path: string | undefined) =>
    data ? Buffer.from(data, 'base64').toString() : path ? readFileSync(resolve(dirname(file), path), 'utf8') : undefined;
  const ca = pem(cluster['certificate-authority-data'], cluster['certificate-authority']);
  const cert = pem(user['client-certificate-data'], user['client-certificate']);
  const key = pem(user['client-key-data'], user['client-key']);
  const tls = ca || cert ? { ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) } : undefined;
  return { server, ...(tls ? { tls } : {}), ...(user.token ? { token: user.token } : {}) };
}

/** GET <server>/keelson/v1/status; a Status answer becomes the ApiError it says. */
export async function fetchStatus(target: ApiTarget, timeoutMs = 15_000): Promise<ClusterStatus> {
  const url = target.server.replace(/\/+$/, '') + CLUSTER_STATUS_PATH;
  let res: Answer;
  try {
    const headers = { accept: 'application/json', ...(target.token ? { authorization: `Bearer ${target.token}` } : {}) };
    res = await fetchText(url, { headers }, timeoutMs, target.tls);
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
export async function gatherOverNats(nats: NatsTarget, storeBucket?: string): Promise<ClusterStatus> {
  let nc;
  try {
    nc = await connectNats(nats, 'keelson-cli-status', { waitForServer: false });
  } catch (e) {
    throw new Error(`could not connect to NATS at ${nats.servers.join(',')}: ${(e as Error).message}`);
  }
  try {
    return await clusterStatus(nc, { storeBucket });
  } finally {
    await nc.close().catch(() => undefined);
  }
}
