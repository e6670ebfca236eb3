/**
 * The API server service: its lifecycle statechart with the real work plugged
 * in — NATS and the store, the watch cache, the HTTP and NATS edges — as one
 * XState actor. `startApiServer` resolves once it is serving.
 */
import type { FastifyInstance } from 'fastify';
import { createActor, fromPromise, type ActorRefFrom } from 'xstate';
import { apiServerMachine } from '../../statecharts/apiserver.machine.js';
import { connectNats, type NatsConnection } from '../lib/nats/index.js';
import { Store } from '../lib/store/index.js';
import { LeaderFencing } from './fencing.js';
import { buildHttpServer } from './http/index.js';
import { startNatsApi, type NatsApi } from './nats/api.service.js';
import { Registry } from './registry/index.js';
import { WatchCache, type WatchCacheOptions } from './watch-cache/index.js';

export const VERSION = '0.1.0';

export type ApiServerOptions = {
  nats: string[];
  host?: string;
  /** 6443 by default; 0 picks a free port (tests). */
  port?: number;
  bucket?: string;
  replicas?: number;
  /** Print one log line per request. */
  logRequests?: boolean;
  /**
   * Watch cache tuning: how many events per resource a watch can resume from
   * (older resourceVersions get 410 Expired) and how long a consistent list
   * waits for the cache to catch up with the store.
   */
  watchCache?: WatchCacheOptions;
};

export type ApiServer = {
  actor: ActorRefFrom<typeof apiServerMachine>;
  /** `http://host:port` once serving. */
  url: string;
  registry: Registry;
  stop(): Promise<void>;
};

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  let nc: NatsConnection | undefined;
  let store: Store | undefined;
  let cache: WatchCache | undefined;
  let registry: Registry | undefined;
  let fencing: LeaderFencing | undefined;
  let app: FastifyInstance | undefined;
  let natsApi: NatsApi | undefined;
  let url = '';
  const started = Date.now();
  const requests = { count: 0 };

  const machine = apiServerMachine.provide({
    actors: {
      connect: fromPromise(async () => {
        await nc?.close().catch(() => undefined);
        nc = await connectNats(opts.nats, 'keelson-apiserver', { waitForServer: false });
        store = await Store.open(nc, { bucket: opts.bucket, replicas: opts.replicas ?? 1 });
        void watchNatsStatus(nc, (type) => actor.send({ type }));
      }),
      syncCaches: fromPromise(async () => {
        await cache?.stop();
        cache = new WatchCache(store!, opts.watchCache);
        await cache.start();
        await fencing?.stop();
        fencing = new LeaderFencing(nc!);
        registry = new Registry(store!, cache, fencing);
        await registry.bootstrap();
      }),
      startServers: fromPromise(async () => {
        app = buildHttpServer({
          registry: registry!,
          logger: opts.logRequests ?? false,
          health: () => {
            const state = String(actor.getSnapshot().value);
            return { live: state !== 'Failed' && state !== 'Stopped', ready: state === 'Serving', state };
          },
          metrics: () =>
            [
              '# HELP keelson_apiserver_up 1 while the API server is serving.',
              '# TYPE keelson_apiserver_up gauge',
              `keelson_apiserver_up ${actor.getSnapshot().value === 'Serving' ? 1 : 0}`,
              '# TYPE keelson_apiserver_cache_revision gauge',
              `keelson_apiserver_cache_revision ${cache?.revision ?? 0}`,
              '# TYPE keelson_apiserver_watchers gauge',
              `keelson_apiserver_watchers ${cache?.watcherCount() ?? 0}`,
              '# TYPE keelson_apiserver_requests_total counter',
              `keelson_apiserver_requests_total ${requests.count}`,
              '# TYPE keelson_apiserver_uptime_seconds gauge',
              `keelson_apiserver_uptime_seconds ${Math.round((Date.now() - started) / 1000)}`,
              '',
            ].join('\n'),
        });
        app.addHook('onRequest', async () => void requests.count++);
        url = await app.listen({ host: opts.host ?? '0.0.0.0', port: opts.port ?? 6443 });
        natsApi = await startNatsApi(nc!, registry!, VERSION);
      }),
      drain: fromPromise(async () => {
        await app?.close().catch(() => undefined);
        await natsApi?.stop().catch(() => undefined);
        await cache?.stop().catch(() => undefined);
        await fencing?.stop().catch(() => undefined);
        // A drain needs the server; with NATS already gone, close instead of
        // leaving the connection reconnecting forever.
        const drained = await Promise.race([nc?.drain().then(() => true), sleep(2_000).then(() => false)]).catch(() => false);
        if (!drained) await nc?.close().catch(() => undefined);
      }),
    },
  });
  const actor = createActor(machine, { systemId: 'apiserver' });

  const ready = new Promise<void>((resolve, reject) => {
    actor.subscribe((s) => {
      if (s.value === 'Serving') resolve();
      if (s.value === 'Failed') reject(new Error(`apiserver could not start: ${s.context.lastError}`));
      if (s.status === 'done') reject(new Error('apiserver stopped before it was serving'));
    });
  });
  actor.start();
  const stop = async () => {
    if (actor.getSnapshot().status === 'done') return;
    const done = new Promise<void>((r) => actor.subscribe((s) => s.status === 'done' && r()));
    actor.send({ type: 'SHUTDOWN' });
    await done;
  };
  try {
    await ready;
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    actor,
    get url() {
      return url.replace('0.0.0.0', '127.0.0.1');
    },
    registry: registry!,
    stop,
  };
}

/** Feeds NATS connection changes to the lifecycle machine. */
async function watchNatsStatus(nc: NatsConnection, send: (type: 'NATS_DISCONNECTED' | 'NATS_RECONNECTED') => void): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === 'disconnect') send('NATS_DISCONNECTED');
    if (s.type === 'reconnect') send('NATS_RECONNECTED');
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
