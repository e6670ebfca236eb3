/**
 * The join service of `keelson up` (lib/nats-auth/join.ts has the protocol):
 * asked on JOIN_SUBJECT by the join user for a node name, it makes that node's
 * NATS user, writes the server's authorization block with it and has
 * nats-server reload it, then answers with the credential. Only new node users
 * are ever given out (a node that joined already is refused: its credential is
 * its own); joins are served one at a time, so two reloads never race.
 */
import type { NatsConnection } from '../lib/nats/index.js';
import type { NatsServer } from '../lib/nats-server/index.js';
import { JOIN_SUBJECT, JOIN_USER, nodeUser, repliesToOwnInbox, type JoinAnswer, type SecuredNats } from '../lib/nats-auth/index.js';
import { isDNS1123Subdomain } from '../apiserver/registry/validation/syntax.js';

export type JoinService = { stop(): Promise<void> };

export function startJoinService(o: { nc: NatsConnection; secured: SecuredNats; server: NatsServer; log: (m: string) => void }): JoinService {
  // Users the running server has been told of (a failed reload leaves one out, to be tried again).
  const letIn = new Set(o.secured.users());
  let queue = Promise.resolve();
  const sub = o.nc.subscribe(JOIN_SUBJECT, {
    callback: (_err, msg) => {
      // Answered only in the join user's own inbox (repliesToOwnInbox says why).
      if (!repliesToOwnInbox(msg.reply, JOIN_USER)) return;
      queue = queue
        .then(async () => {
          const answer = await join(msg.data).catch((e: Error): JoinAnswer => ({ error: e.message }));
          msg.respond(new TextEncoder().encode(JSON.stringify(answer)));
        })
        .catch((e: Error) => o.log(`keelson up: a join could not be answered: ${e.message}`));
    },
  });

  async function join(data: Uint8Array): Promise<JoinAnswer> {
    let node: unknown;
    try {
      node = (JSON.parse(new TextDecoder().decode(data)) as { node?: unknown }).node;
    } catch {
      return { error: 'the request is not JSON {"node": "<name>"}' };
    }
    if (typeof node !== 'string') return { error: 'the request names no node: want {"node": "<name>"}' };
    const invalid = isDNS1123Subdomain(node);
    if (invalid.length) return { error: `"${node}" is not a valid node name: ${invalid.join('; ')}` };
    const user = nodeUser(node);
    // A node's credential is given once: handing it out again would let anyone with the join file be that node.
    if (o.secured.known(user) && letIn.has(user)) {
      return { error: `node "${node}" has joined already; to join it again, delete ${o.secured.credentialsFile(user)} and restart keelson up` };
    }
    const credential = o.secured.ensureUser(user);
    await o.server.reload({ extraConfig: o.secured.authorization() });
    letIn.add(user);
    o.log(`keelson up: node "${node}" joined: NATS user ${user} made and let in`);
    return { credential };
  }

  return { stop: async () => sub.unsubscribe() };
}
