/**
 * The endpoints controller: for every Service with a selector, an Endpoints
 * object of the same name listing the pods behind it (endpoints-subsets.ts), as
 * Kubernetes' endpoints controller keeps them. A Service without a selector is
 * left alone (its Endpoints are the user's); Endpoints this controller wrote are
 * deleted with their Service.
 *
 * Handlers only queue service keys (`namespace/name`): a Service or Endpoints
 * change queues its own, a pod change the services whose selector picks it
 * before or after. `sync(key)` computes the subsets from the caches and writes
 * only when they changed, with compare-and-swap.
 */
import { isDeepStrictEqual } from 'node:util';
import { resourceForKind, type KObject } from '../lib/api/resources.js';
import { Controller, keyOf, splitKey } from '../lib/controller/index.js';
import { isNotFound } from '../lib/errors/index.js';
import type { Informer, InformerEvent } from '../lib/informer/index.js';
import type { ControllerContext, RunningController } from './context.js';
import { endpointsView, endpointSubsets, selects, serviceSelector } from './endpoints-subsets.js';

const SERVICES = resourceForKind('Service')!;
const ENDPOINTS = resourceForKind('Endpoints')!;
const PODS = resourceForKind('Pod')!;

/** Set on every Endpoints this controller writes (Kubernetes sets it too): the mark of a managed object. */
export const LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';
/** Kubernetes labels the Endpoints of a headless service. */
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';

export async function startEndpointsController(ctx: ControllerContext): Promise<RunningController> {
  const [services, pods, endpoints] = await Promise.all([ctx.informers.get('services'), ctx.informers.get('pods'), ctx.informers.get('endpoints')]);
  const controller = new Controller({
    name: 'endpoints',
    workers: ctx.options.workers,
    log: ctx.log,
    sync: (key) => syncEndpoints(ctx, services, pods, endpoints, key),
  });
  const offs = [
    services.on((ev) => controller.enqueue(keyOf(ev.object))),
    endpoints.on((ev) => controller.enqueue(keyOf(ev.object))),
    pods.on((ev) => {
      for (const key of servicesOfPod(services, ev)) controller.enqueue(key);
    }),
  ];
  // Leftovers first seen now: Endpoints whose Service went while no leader ran.
  for (const o of [...services.list(SERVICES), ...endpoints.list(ENDPOINTS)]) controller.enqueue(keyOf(o));
  controller.start();
  return {
    name: 'endpoints',
    stats: () => controller.stats(),
    stop: async () => {
      for (const off of offs) off();
      await controller.stop();
    },
  };
}

/** The services a pod change may concern: those selecting the pod before or after it. */
function servicesOfPod(services: Informer, ev: InformerEvent): string[] {
  if (ev.type === 'MODIFIED' && endpointsView(ev.old) === endpointsView(ev.object)) return [];
  const namespace = ev.object.metadata?.namespace;
  const out: string[] = [];
  for (const svc of services.list(SERVICES, namespace)) {
    const selector = serviceSelector(svc);
    if (!selector) continue;
    if (selects(selector, ev.object) || (ev.old && selects(selector, ev.old))) out.push(keyOf(svc));
  }
  return out;
}

async function syncEndpoints(ctx: ControllerContext, services: Informer, pods: Informer, endpoints: Informer, key: string): Promise<void> {
  const { namespace, name } = splitKey(key);
  const svc = services.get(SERVICES, namespace, name);
  const current = endpoints.get(ENDPOINTS, namespace, name);
  if (!svc) {
    if (current && current.metadata?.annotations?.[LAST_CHANGE_TRIGGER_TIME] !== undefined) {
      await ctx.client.delete(ENDPOINTS, namespace, name, { preconditions: { uid: current.metadata.uid } }).catch((e) => {
        if (!isNotFound(e)) throw e;
      });
    }
    return;
  }
  if (!serviceSelector(svc)) return;
  const subsets = endpointSubsets(svc, pods.list(PODS, namespace));
  const labels = endpointsLabels(svc);
  const annotations = current?.metadata?.annotations ?? {};
  if (
    current &&
    annotations[LAST_CHANGE_TRIGGER_TIME] !== undefined &&
    isDeepStrictEqual(current.subsets ?? [], subsets) &&
    isDeepStrictEqual(current.metadata?.labels ?? {}, labels)
  ) {
    return;
  }
  const stamped = { ...annotations, [LAST_CHANGE_TRIGGER_TIME]: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
  if (!current) {
    await ctx.client.create({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace, labels, annotations: stamped }, subsets });
    return;
  }
  // Stale cache → Conflict → retried with back-off once the cache caught up.
  await ctx.client.update({ ...current, metadata: { ...current.metadata, labels, annotations: stamped }, subsets } as KObject);
}

/** The service's labels, plus the headless mark, as Kubernetes copies them. */
function endpointsLabels(svc: KObject): Record<string, string> {
  const labels = { ...(svc.metadata?.labels ?? {}) };
  if ((svc.spec as { clusterIP?: string } | undefined)?.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
  else delete labels[HEADLESS_LABEL];
  return labels;
}
