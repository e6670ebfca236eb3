/**
 * Who talks on NATS and what each may say. Every component connects as a NATS
 * user of its own, named as Kubernetes names it (`system:apiserver`,
 * `system:kube-scheduler`, `system:node:<name>`…), proving it with an nkey (the
 * server keeps only public keys; the seed stays in the component's credentials
 * file). The server's authorization block, made here from those users, lets:
 *  - the API server do anything: it alone writes the store's subjects (and the
 *    administrator's NATS user, for tools such as `keelson status --nats`);
 *  - every other user read the store (consumers, gets, stream info and its
 *    advisories), call the API only on its own subject
 *    `keelson.api.v1.request.<user>` (so the API server knows who calls, and
 *    authorizes it as it does an HTTP caller), take replies only on its own inbox
 *    prefix, publish live inspection and answer its queries;
 *  - a node also serve and publish its own kubelet subjects, no other node's;
 *  - the scheduler and the controller-manager also write their leases in the
 *    elections bucket (the API server makes it);
 *  - the join user (a join file's) only ask for a node's credentials (join.ts).
 *
 * Subjects carry a user or node name as one token (subject-token.ts).
 */
import { nkeys } from '@nats-io/nats-core';
import { readFileSync } from 'node:fs';
import { API_SUBJECT } from '../api/nats-api.js';
import { writePrivateFile } from '../files/index.js';
import { INSPECT_PREFIX } from '../inspect/index.js';
import { kubeletSubjects } from '../kubelet-api/index.js';
import { subjectToken } from './subject-token.js';

export { subjectToken, userOfToken } from './subject-token.js';

/** A NATS identity: the user it stands for and its nkey seed (secret). */
export type NatsCredential = { user: string; seed: string };

export const APISERVER_USER = 'system:apiserver';
export const SCHEDULER_USER = 'system:kube-scheduler';
export const CONTROLLER_MANAGER_USER = 'system:kube-controller-manager';
export const PROXY_USER = 'system:kube-proxy';
/** The cluster administrator's NATS user (for `keelson get` and other NATS clients): in system:masters, as `keelson up`'s admin certificate. */
export const ADMIN_USER = 'keelson-admin';
/** A node's user is this and its name (Kubernetes' node authorizer knows nodes by it). */
export const NODE_USER_PREFIX = 'system:node:';
/** The user of a join file (`keelson agent --join`): it may only ask for a node's own user (join.ts). */
export const JOIN_USER = 'system:bootstrap:join';
/** Where joining nodes ask. */
export const JOIN_SUBJECT = 'keelson.join.v1';
export const nodeUser = (node: string) => `${NODE_USER_PREFIX}${node}`;

/** The control plane's users and the administrator's: every cluster has them (nodes and others are added). */
export const CONTROL_PLANE_USERS: readonly string[] = [APISERVER_USER, SCHEDULER_USER, CONTROLLER_MANAGER_USER, ADMIN_USER];

/** The store buckets whose subjects the permissions name. */
export type NatsBuckets = { store: string; elections: string };

/**
 * Whether a request's reply subject is in `user`'s own inbox. Those who answer
 * requests with the API server's connection (which may publish anywhere) answer
 * only such requests: NATS checks no one's reply subject against their
 * permissions, so a reply subject of the caller's choosing (`$KV.…`, a JetStream
 * API subject) would have the API server write there on its behalf.
 */
export function repliesToOwnInbox(reply: string | undefined, user: string): boolean {
  return reply !== undefined && reply.startsWith(`${inboxPrefixFor(user)}.`);
}

/** Where `user` sends API requests. */
export const apiSubjectFor = (user: string) => `${API_SUBJECT}.${subjectToken(user)}`;
/** The prefix of `user`'s inboxes: replies to it can go nowhere else. */
export const inboxPrefixFor = (user: string) => `_INBOX.${subjectToken(user)}`;
/** The node a user name is, or undefined. */
export function nodeOfUser(user: string): string | undefined {
  return user.startsWith(NODE_USER_PREFIX) && user.length > NODE_USER_PREFIX.length ? user.slice(NODE_USER_PREFIX.length) : undefined;
}

export function createNatsCredential(user: string): NatsCredential {
  return { user, seed: new TextDecoder().decode(nkeys.createUser().getSeed()) };
}

/** The public key the server knows `credential` by. */
export function publicKeyOf(credential: NatsCredential): string {
  return nkeys.fromSeed(new TextEncoder().encode(credential.seed)).getPublicKey();
}

/** The name of `user`'s credentials file in a credentials folder (securedNats writes them so). */
export const credentialsFileName = (user: string) => `${subjectToken(user)}.json`;

/** A credentials file: JSON `{ "user": …, "seed": "SU…" }`, written owner-only. */
export function writeNatsCredential(file: string, credential: NatsCredential): void {
  writePrivateFile(file, `${JSON.stringify(credential, null, 2)}\n`);
}

export function readNatsCredential(file: string): NatsCredential {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`NATS credentials file ${file}: ${(e as Error).message}`);
  }
  return checkNatsCredential(parsed, `NATS credentials file ${file}`);
}

/** A credential as parsed JSON, checked: `where` names it in errors. */
export function checkNatsCredential(parsed: unknown, where: string): NatsCredential {
  const c = parsed as Partial<NatsCredential> | undefined;
  if (typeof c?.user !== 'string' || !c.user || typeof c.seed !== 'string' || !c.seed.startsWith('SU')) {
    throw new Error(`${where}: want {"user": "<name>", "seed": "SU…"}`);
  }
  try {
    publicKeyOf(c as NatsCredential);
  } catch (e) {
    throw new Error(`${where}: the seed is not a user nkey seed (${(e as Error).message})`);
  }
  return { user: c.user, seed: c.seed };
}

type Permissions = { publish: { allow: string[] }; subscribe: { allow: string[] }; allow_responses: boolean };

/** What `user` may publish and subscribe to; undefined for the API server (everything). */
export function permissionsFor(user: string, b: NatsBuckets): Permissions | undefined {
  // The API server, and the cluster's administrator (system:masters, as able to impersonate anyone over HTTP), may do anything.
  if (user === APISERVER_USER || user === ADMIN_USER) return undefined;
  if (user === JOIN_USER) return { publish: { allow: [JOIN_SUBJECT] }, subscribe: { allow: [`${inboxPrefixFor(user)}.>`] }, allow_responses: false };
  const store = `KV_${b.store}`;
  const publish = [apiSubjectFor(user), `${INSPECT_PREFIX}.transitions.>`, '$JS.API.INFO', ...readStream(store)];
  const subscribe = [`${inboxPrefixFor(user)}.>`, `${INSPECT_PREFIX}.states`, `$JS.EVENT.ADVISORY.STREAM.*.${store}`];
  const node = nodeOfUser(user);
  if (node !== undefined) {
    publish.push(`${kubeletSubjects(node)}.>`);
    subscribe.push(`${kubeletSubjects(node)}.>`);
  }
  if (user === SCHEDULER_USER || user === CONTROLLER_MANAGER_USER) {
    const elections = `KV_${b.elections}`;
    // Their leases; the bucket itself is the API server's to make (no stream management for anyone else).
    publish.push(`$KV.${b.elections}.>`, ...readStream(elections));
    subscribe.push(`$JS.EVENT.ADVISORY.STREAM.*.${elections}`);
  }
  // Answers to live inspection's queries go to the asker's inbox, one each.
  return { publish: { allow: publish }, subscribe: { allow: subscribe }, allow_responses: true };
}

/** The JetStream API subjects that read a stream: its info, messages, and consumers of it. */
function readStream(stream: string): string[] {
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
    `$JS.ACK.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ];
}

/** nats-server's `authorization` block for these users (nkeys and permissions; JSON is valid server config). */
export function authorizationConfig(credentials: NatsCredential[], b: NatsBuckets): string {
  const users = credentials.map((c) => {
    const permissions = permissionsFor(c.user, b);
    return { nkey: publicKeyOf(c), ...(permissions ? { permissions } : {}) };
  });
  return `authorization ${JSON.stringify({ users }, null, 2)}\n`;
}

export { securedNats, type SecuredNats } from './secured.js';
export { joinedTarget, readJoinFile, requestJoin, writeJoinFile, type JoinAnswer, type JoinFile } from './join.js';
