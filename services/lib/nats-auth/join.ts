/**
 * Joining a node to a secured cluster, the way Kubernetes' bootstrap tokens
 * get a kubelet its client certificate. A join file (written by `keelson up`,
 * owner-only) holds the NATS servers, the cluster CA and the join user's
 * credential; that user may do nothing on NATS but ask on JOIN_SUBJECT for a
 * node name. The answer is the node's own credential (`system:node:<name>`,
 * with a node's permissions), which the agent keeps in its data folder and
 * uses from then on.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import { writePrivateFile } from '../files/index.js';
import { connectNats, type NatsTarget } from '../nats/index.js';
import { checkNatsCredential, JOIN_SUBJECT, JOIN_USER, nodeUser, readNatsCredential, writeNatsCredential, type NatsCredential } from './index.js';

export type JoinFile = { servers: string[]; ca: string; credential: NatsCredential };

/** What the join service answers: the node's credential, or why not. */
export type JoinAnswer = { credential: NatsCredential } | { error: string };

export function writeJoinFile(file: string, join: JoinFile): void {
  writePrivateFile(file, `${JSON.stringify(join, null, 2)}\n`);
}

export function readJoinFile(file: string): JoinFile {
  let j: Partial<JoinFile>;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as Partial<JoinFile>;
  } catch (e) {
    throw new Error(`join file ${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(j.servers) || !j.servers.length || typeof j.ca !== 'string' || !j.credential) {
    throw new Error(`join file ${file}: want {"servers": [...], "ca": "<PEM>", "credential": {...}} as \`keelson up\` writes it`);
  }
  // The credential is checked as a credentials file is.
  const credential = checkNatsCredential(j.credential, file);
  if (credential.user !== JOIN_USER) throw new Error(`join file ${file}: its credential is for "${credential.user}", not the join user`);
  return { servers: j.servers, ca: j.ca, credential };
}

/** Asks the cluster of `join` for node `node`'s credential (`servers` overrides the file's). */
export async function requestJoin(join: JoinFile, node: string, servers?: string[]): Promise<NatsCredential> {
  const nc = await connectNats({ servers: servers ?? join.servers, credential: join.credential, ca: join.ca }, `keelson-join-${node}`, {
    waitForServer: false,
  });
  try {
    const reply = await nc.request(JOIN_SUBJECT, new TextEncoder().encode(JSON.stringify({ node })), { timeout: 15_000 });
    const answer = JSON.parse(new TextDecoder().decode(reply.data)) as JoinAnswer;
    if ('error' in answer) throw new Error(`the cluster refused node "${node}": ${answer.error}`);
    return checkNatsCredential(answer.credential, 'the join answer');
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/**
 * How node `node` reaches the cluster of join file `file`: with the credential
 * kept in `dataDir/nats-credentials.json` from an earlier join, else with one
 * asked for now (and kept). `servers` overrides the join file's.
 */
export async function joinedTarget(file: string, node: string, dataDir: string, servers?: string[]): Promise<NatsTarget> {
  const join = readJoinFile(file);
  const kept = joinPath(dataDir, 'nats-credentials.json');
  let credential = existsSync(kept) ? readNatsCredential(kept) : undefined;
  if (credential?.user !== nodeUser(node)) {
    credential = await requestJoin(join, node, servers);
    mkdirSync(dataDir, { recursive: true });
    writeNatsCredential(kept, credential);
  }
  return { servers: servers ?? join.servers, credential, ca: join.ca };
}
