/**
 * The join service of `keelson up` (lib/nats-auth/join.ts has the protocol):
 * asked on JOIN_SUBJECT by the join user for a node name, it makes that node's
 * NATS user (or finds the one it has: joining again is idempotent), writes the
 * server's authorization block with it and has nats-server reload it, then
 * answers with the credential. Only node users are ever given out; joins are
 * served one at a time, so two reloads never race.
 */
import type { NatsConnection } from '../lib/nats/index.js';
import type { NatsServer } from '../lib/nats-server/index.js';
import { JOIN_SUBJECT, nodeUser, type JoinAnswer, type SecuredNats } from '../lib/nats-auth/index.js';
import { isDNS1123Subdomain } from '../apiserver/registry/validation/syntax.js';

export type JoinService = { stop(): Promise<void> };

export function startJoinService(o: { nc: NatsConnection; secured: SecuredNats; server: NatsServer; log: (m: string) => void }): JoinService {
  let queue = Promise.resolve();
  const sub = o.nc.subscribe(JOIN_SUBJECT, {
    callback: (_err, msg) => {
      queue = queue.then(async () => {
        const answer = await join(msg.data).catch((e: Error): JoinAnswer => ({ error: e.message }));
        msg.respond(new TextEncoder().encode(JSON.stringify(answer)));
      });
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
    const known = o.secured.known(user);
    const credential = o.secured.ensureUser(user);
    if (!known) {
      await o.server.reload({ extraConfig: o.secured.authorization() });
      o.log(`keelson up: node "${node}" joined: NATS user ${user} made and let in`);
    }
    return { credential };
  }

  return { stop: async () => sub.unsubscribe() };
}
