/**
 * The API server service: its lifecycle statechart with the real work plugged
 * in — NATS and the store, the Service allocator and its repair loop, the
 * watch cache, the HTTP and NATS edges, the `default/kubernetes` Service — as
 * one XState actor. `startApiServer` resolves once it is serving.
 */
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createActor, fromPromise, type ActorRefFrom } from 'xstate';
import { apiServerMachine } from '../../statecharts/apiserver.machine.js';
import { resourceForKind } from '../lib/api/resources.js';
import { NatsInspector } from '../lib/inspect/index.js';
import { connectNats, natsTarget, onNatsStatus, type NatsAddress, type NatsConnection } from '../lib/nats/index.js';
import { Store } from '../lib/store/index.js';
import { ElectionsBucket } from '../lib/leader-election/index.js';
import { LEADER_TIMING } from '../../statecharts/leader.machine.js';
import {
  DEFAULT_SERVICE_CLUSTER_IP_RANGE,
  openServiceAllocator,
  parsePortRange,
  ServiceIPRange,
  startRepair,
  type Repair,
  type RepairOptions,
  type ServiceAllocator,
} from './allocation/index.js';
import { Authenticator, type AuthenticationOptions } from './authn/index.js';
import { Authorizer, ensureBootstrapPolicy } from './authz/index.js';
import { LeaderFencing } from './fencing.js';
import { buildHttpServer } from './http/index.js';
import { defaultAdvertiseAddress, startKubernetesService, type KubernetesService } from './kubernetes-service/index.js';
import { startNatsApi, type NatsApi } from './nats/api.service.js';
import { Registry } from './registry/index.js';
import { DEFAULT_NODE_PORT_RANGE } from './registry/validation/index.js';
import { WatchCache, type WatchCacheOptions } from './watch-cache/index.js';

export const VERSION = '0.1.0';

export type ApiServerOptions = {
  /**
   * The NATS servers, and on a secured cluster the API server's own NATS user
   * (`system:apiserver`) and CA: with a user, NATS is taken as secured and every
   * NATS API caller is authorized by the user its subject names (lib/nats-auth).
   */
  nats: NatsAddress;
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
  /** `--service-cluster-ip-range`: the CIDR cluster IPs come from (default 10.96.0.0/16). */
  serviceClusterIPRange?: string;
  /** `--service-node-port-range`: e.g. `30000-32767` (the default). */
  serviceNodePortRange?: string;
  /**
   * `--advertise-address`: where pods reach this API server, listed in the
   * `default/kubernetes` Endpoints. Default: `host` when it is one address,
   * else the host's first non-internal IPv4, else 127.0.0.1.
   */
  advertiseAddress?: string;
  /** The allocation repair loop's timing (tests shorten it). */
  allocationRepair?: RepairOptions;
  /** How often this API server renews its place in the kubernetes Endpoints, and the TTL of that place. */
  kubernetesService?: { renewMs?: number; leaseMs?: number };
  /** This server's name in live inspection (`apiserver/<identity>`); default the hostname. */
  identity?: string;
  /** Serve HTTPS: PEM certificate and key (`--tls-cert-file`, `--tls-private-key-file`); `clientCA` (`--client-ca-file`) verifies client certificates. */
  tls?: { cert: string; key: string; clientCA?: string };
  /**
   * Who may call the HTTP API (`--token-auth-file`, client certificates when
   * `tls.clientCA` is given): anyone else gets 401, and what each user may do is
   * decided by RBAC (403 otherwise). Without it every request is served, as plain
   * in-process tests want.
   */
  authentication?: Omit<AuthenticationOptions, 'clientCertificates'>;
};

export type ApiServer = {
  actor: ActorRefFrom<typeof apiServerMachine>;
  /** `http(s)://host:port` once serving. */
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
  let allocator: ServiceAllocator | undefined;
  let repair: Repair | undefined;
  let kubernetesService: KubernetesService | undefined;
  let url = '';
  // A bad range is the caller's mistake: refuse it before connecting to anything.
  const ipRange = ServiceIPRange.parse(opts.serviceClusterIPRange ?? DEFAULT_SERVICE_CLUSTER_IP_RANGE);
  const nodePortRange = opts.serviceNodePortRange ? parsePortRange(opts.serviceNodePortRange) : DEFAULT_NODE_PORT_RANGE;
  const services = resourceForKind('Service')!;
  const started = Date.now();
  const requests = { count: 0 };
  const identity = opts.identity ?? hostname();
  const nats = natsTarget(opts.nats);
  const inspector = new NatsInspector(`apiserver/${identity}`);
  // A token file that does not parse is the caller's mistake too: refused before anything starts.
  const authenticator = opts.authentication
    ? new Authenticator({ log: (m) => console.error(m), ...opts.authentication, clientCertificates: Boolean(opts.tls?.clientCA) })
    : undefined;

  const machine = apiServerMachine.provide({
    actors: {
      connect: fromPromise(async () => {
        await nc?.close().catch(() => undefined);
        nc = await connectNats(nats, 'keelson-apiserver', { waitForServer: false });
        inspector.attach(nc);
        store = await Store.open(nc, { bucket: opts.bucket, replicas: opts.replicas ?? 1 });
        const opened = store;
        // The leader elections' bucket is made here, as every stream is: on a secured NATS no one else may.
        // One made before with another configuration stays as it is; any other failure is retried with the connection.
        await ElectionsBucket.open(nc, { leaseMs: LEADER_TIMING.leaseMs, replicas: await storeReplicas(opened) }).catch((e: Error) => {
          if (!/already in use/.test(e.message)) throw e;
        });
        await allocator?.stop();
        allocator = await openServiceAllocator(nc, {
          storeBucket: opened.bucket,
          replicas: await storeReplicas(opened),
          ipRange,
          nodePortRange,
          lookup: (owner) => opened.get(services, owner.namespace, owner.name),
        });
        void onNatsStatus(nc, (type) => actor.send({ type }));
      }),
      syncCaches: fromPromise(async () => {
        await cache?.stop();
        cache = new WatchCache(store!, opts.watchCache);
        await cache.start();
        await fencing?.stop();
        fencing = new LeaderFencing(nc!);
        registry = new Registry(store!, cache, fencing, { allocator });
        await registry.bootstrap();
        await ensureBootstrapPolicy(registry);
        const synced = cache;
        await repair?.stop();
        repair = startRepair(allocator!, async () => (await synced.fresh(), synced.list(services)), opts.allocationRepair);
      }),
      startServers: fromPromise(async () => {
        const authorizer = new Authorizer(cache!);
        app = buildHttpServer({
          registry: registry!,
          logger: opts.logRequests ?? false,
          tls: opts.tls,
          authenticator,
          authorizer,
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
        // With NATS secured, each NATS caller is known by its subject and authorized as on HTTP.
        natsApi = await startNatsApi(nc!, registry!, VERSION, nats.credential ? { authorizer } : undefined);
        // After listening: the Service points at the port actually bound (port 0 in tests).
        kubernetesService = await startKubernetesService({
          nc: nc!,
          registry: registry!,
          storeBucket: store!.bucket,
          replicas: await storeReplicas(store!),
          clusterIP: ipRange.firstIP,
          address: opts.advertiseAddress ?? defaultAdvertiseAddress(opts.host),
          port: (app.server.address() as AddressInfo).port,
          ...opts.kubernetesService,
        });
      }),
      drain: fromPromise(async () => {
        // Out of the kubernetes Endpoints first, while still serving; bounded, NATS may be gone.
        await Promise.race([kubernetesService?.stop(), sleep(3_000)]).catch(() => undefined);
        await app?.close().catch(() => undefined);
        await natsApi?.stop().catch(() => undefined);
        await repair?.stop().catch(() => undefined);
        await allocator?.stop().catch(() => undefined);
        await cache?.stop().catch(() => undefined);
        await fencing?.stop().catch(() => undefined);
        await inspector.stop();
        // A drain needs the server; with NATS already gone, close instead of
        // leaving the connection reconnecting forever.
        const drained = await Promise.race([nc?.drain().then(() => true), sleep(2_000).then(() => false)]).catch(() => false);
        if (!drained) await nc?.close().catch(() => undefined);
      }),
    },
  });
  const actor = createActor(machine, { systemId: 'apiserver', inspect: inspector.track(`apiserver/${identity}`, 'apiserver').inspect });

  const ready = new Promise<void>((resolve, reject) => {
    actor.subscribe((s) => {
      if (s.value === 'Serving') resolve();
      if (s.value === 'Failed') reject(new Error(`apiserver could not start: ${s.context.lastError}`));
      if (s.status === 'done') reject(new Error('apiserver stopped before it was serving'));
    });
  });
  // Leaving and rejoining service is worth a line: it is why a load balancer takes this server out.
  let previous = '';
  actor.subscribe((s) => {
    const state = String(s.value);
    if (state === 'Degraded') console.error('apiserver: NATS connection lost: Degraded (reads from the cache, writes refused, /readyz 503)');
    if (state === 'Serving' && previous === 'Degraded') console.error('apiserver: NATS connection back: Serving');
    // A start that keeps failing says why each time, not only when it gives up.
    if (state === 'RetryWait' && previous !== 'RetryWait') console.error(`apiserver: could not start (attempt ${s.context.attempts}): ${s.context.lastError}; trying again`);
    previous = state;
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

/** The object store's replicas: the buckets beside it are kept as safely. */
async function storeReplicas(store: Store): Promise<number> {
  return (await store.kv.status()).streamInfo.config.num_replicas || 1;
}

/** Feeds NATS connection changes to the lifecycle machine. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
