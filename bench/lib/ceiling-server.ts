/**
 * A ceiling for the create figure, not Keelson: Fastify with the API server's
 * JSON body parser, answering `POST /api/v1/namespaces/:ns/pods`.
 *
 *   echo          replies the parsed body (HTTP + JSON only)
 *   kv            kv.create of a fixed value first (one KV CAS, as Keelson does),
 *                 connected the way Keelson connects (services/lib/nats)
 *   kv-notraces   the same with the NATS option noAsyncTraces: true
 *
 * Run as a child: node --import tsx bench/lib/ceiling-server.ts MODE NATS_URL PORT
 */
import Fastify from 'fastify';
import { connect } from '@nats-io/transport-node';
import { connectNats } from '../../services/lib/nats/index.js';
import { Store } from '../../services/lib/store/index.js';

async function main(): Promise<void> {
  const [mode, natsUrl, port, valueBytes] = process.argv.slice(2);
  const app = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(String(body)));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  let store: Store | undefined;
  if (mode === 'kv' || mode === 'kv-notraces') {
    const nc = mode === 'kv' ? await connectNats(natsUrl!, 'bench-ceiling') : await connect({ servers: natsUrl!, name: 'bench-ceiling', noAsyncTraces: true });
    store = await Store.open(nc, { bucket: `ceiling-${mode}` });
  }
  const value = new Uint8Array(Number(valueBytes) || 1000).fill(7);
  app.post('/api/v1/namespaces/:ns/pods', async (req, reply) => {
    const body = req.body as { metadata: { name: string; resourceVersion?: string } };
    if (store) {
      const rev = await store.kv.create(`pods.${(req.params as { ns: string }).ns}.${body.metadata.name}`, value);
      body.metadata.resourceVersion = String(rev);
    }
    return reply.code(201).send(body);
  });
  await app.listen({ host: '127.0.0.1', port: Number(port) });
  process.stdout.write(`serving on ${port}\n`);
  process.on('SIGTERM', () => void app.close().finally(() => process.exit(0)));
}

main().catch((e) => {
  process.stderr.write(`ceiling server: ${(e as Error).message}\n`);
  process.exit(1);
});
