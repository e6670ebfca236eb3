/**
 * The `default/kubernetes` Service and Endpoints: how pods find the API.
 *
 *   const k = await startKubernetesService({ nc, registry, storeBucket, replicas, clusterIP, address, port });
 *   ...
 *   await k.stop(); // takes this API server out of the Endpoints
 *
 * Every API server, every `renewMs` (5 s):
 *  1. rewrites its record in the apiservers bucket (a TTL bucket: records of
 *     API servers that stopped renewing expire after `leaseMs`, 15 s);
 *  2. creates the Service if it is missing (on the first address of the
 *     service range, which the allocator then holds for it), or points its
 *     port at this API server when it points at none that is alive;
 *  3. sets the Endpoints to the live records, if they differ.
 * All writes go through the registry (validation, allocation, CAS); two API
 * servers writing at once conflict, and the loser tries again next round. A
 * crashed API server leaves the Endpoints within leaseMs + renewMs.
 */
import { hostname } from 'node:os';
import type { NatsConnection } from '@nats-io/nats-core';
import { resourceForKind, type KObject } from '../../lib/api/resources.js';
import { isAlreadyExists, isNotFound } from '../../lib/errors/index.js';
import type { Registry } from '../registry/index.js';
import { ApiServersBucket, type ApiServerRecord } from './apiservers.bucket.js';
import { KUBERNETES_NAMESPACE, KUBERNETES_SERVICE, kubernetesEndpoints, kubernetesService, sameSubsets, servicePortsUpdate } from './objects.js';

export { defaultAdvertiseAddress } from './advertise-address.js';
export { ApiServersBucket, apiserversBucketName, type ApiServerRecord } from './apiservers.bucket.js';
export { KUBERNETES_NAMESPACE, KUBERNETES_SERVICE } from './objects.js';

export type KubernetesServiceOptions = {
  nc: NatsConnection;
  registry: Registry;
  /** The object store's bucket: the apiservers bucket is `<it>-apiservers`. */
  storeBucket: string;
  replicas: number;
  /** The Service's address: the first of the service range. */
  clusterIP: string;
  /** This API server, as pods reach it. */
  address: string;
  port: number;
  /** How often the record is rewritten and the objects checked (default 5 s). */
  renewMs?: number;
  /** The apiservers bucket's TTL when it is created (default 15 s). */
  leaseMs?: number;
  log?: (message: string) => void;
};

export type KubernetesService = {
  /** One round now. */
  reconcile(): Promise<void>;
  /** Graceful: deletes this API server's record and takes it out of the Endpoints. */
  stop(): Promise<void>;
};

const SERVICES = resourceForKind('Service')!;
const ENDPOINTS = resourceForKind('Endpoints')!;

export async function startKubernetesService(opts: KubernetesServiceOptions): Promise<KubernetesService> {
  const log = opts.log ?? ((m: string) => console.error(m));
  let renewMs = opts.renewMs ?? 5_000;
  // Opened in the first round that can: a new cluster may time out its first stream creations.
  let bucket: ApiServersBucket | undefined;
  const open = async () => {
    if (bucket) return bucket;
    bucket = await ApiServersBucket.open(opts.nc, { storeBucket: opts.storeBucket, replicas: opts.replicas, leaseMs: opts.leaseMs ?? 15_000 });
    // Three renewals per lease at least, whatever the bucket's TTL turned out to be.
    renewMs = Math.min(renewMs, Math.floor(bucket.leaseMs / 3));
    restartTimer();
    return bucket;
  };
  const self = (): ApiServerRecord => ({ address: opts.address, port: opts.port, hostname: hostname(), renewTime: new Date().toISOString() });
  let failing = false;

  const round = async (leaving = false) => {
    const bucket = await open();
    if (leaving) await bucket.remove(opts.address, opts.port);
    else await bucket.put(self());
    const live = await bucket.list();
    if (!leaving) await ensureService(opts.registry, opts.clusterIP, opts.port, live);
    await ensureEndpoints(opts.registry, live);
  };
  let running: Promise<void> | undefined;
  const reconcile = () =>
    (running ??= round()
      .then(() => {
        if (failing) log(`kubernetes service: ${KUBERNETES_NAMESPACE}/${KUBERNETES_SERVICE} is reconciled again`);
        failing = false;
      })
      .catch((e) => {
        if (!failing) log(`kubernetes service: could not reconcile ${KUBERNETES_NAMESPACE}/${KUBERNETES_SERVICE}, retrying every ${renewMs} ms: ${(e as Error).message}`);
        failing = true;
      })
      .finally(() => {
        running = undefined;
      }));

  let timer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;
  const restartTimer = () => {
    clearInterval(timer);
    if (stopping) return;
    timer = setInterval(() => void reconcile(), renewMs);
    timer.unref();
  };
  restartTimer();
  await reconcile();
  return {
    reconcile,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(timer);
        await running;
        if (!bucket) return; // never got in: nothing to take out
        await round(true).catch((e) => log(`kubernetes service: could not leave the ${KUBERNETES_SERVICE} Endpoints: ${(e as Error).message}`));
      })()),
  };
}

async function ensureService(registry: Registry, clusterIP: string, port: number, live: ApiServerRecord[]): Promise<void> {
  let svc: KObject;
  try {
    svc = await registry.get(SERVICES, KUBERNETES_NAMESPACE, KUBERNETES_SERVICE);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await registry.create(SERVICES, KUBERNETES_NAMESPACE, kubernetesService(clusterIP, port)).catch(async (err) => {
      // Another API server created it first (its claim of the IP beat ours): fine.
      if (isAlreadyExists(err) || (await registry.store.get(SERVICES, KUBERNETES_NAMESPACE, KUBERNETES_SERVICE))) return;
      throw err;
    });
    return;
  }
  const next = servicePortsUpdate(svc, port, live);
  if (next) await registry.update(SERVICES, KUBERNETES_NAMESPACE, KUBERNETES_SERVICE, next);
}

async function ensureEndpoints(registry: Registry, live: ApiServerRecord[]): Promise<void> {
  const current = await registry.store.get(ENDPOINTS, KUBERNETES_NAMESPACE, KUBERNETES_SERVICE);
  if (current && sameSubsets(current, live)) return;
  const desired = kubernetesEndpoints(live);
  if (!current) await registry.create(ENDPOINTS, KUBERNETES_NAMESPACE, desired);
  else await registry.update(ENDPOINTS, KUBERNETES_NAMESPACE, KUBERNETES_SERVICE, { ...current, subsets: desired.subsets });
}
