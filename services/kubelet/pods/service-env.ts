/**
 * The environment variables a container gets for the Services that exist when
 * it starts, as Kubernetes' kubelet sets them (the Docker-links convention):
 * for every Service with a cluster IP in the pod's namespace — only when the
 * pod's `enableServiceLinks` is not false — and always for the `kubernetes`
 * Service of `default`:
 *
 *   WEB_SERVICE_HOST=10.96.0.20        WEB_SERVICE_PORT=80     WEB_SERVICE_PORT_HTTP=80
 *   WEB_PORT=tcp://10.96.0.20:80       WEB_PORT_80_TCP=tcp://10.96.0.20:80
 *   WEB_PORT_80_TCP_PROTO=tcp          WEB_PORT_80_TCP_PORT=80  WEB_PORT_80_TCP_ADDR=10.96.0.20
 *
 * (`_SERVICE_PORT` and `_PORT` name the first port). The container's own `env`
 * wins over these. Pure.
 */
import type { KObject } from '../../lib/api/resources.js';
import type { EnvVar } from '../runtime/pod-spec.js';

type SvcPort = { name?: string; port?: number; protocol?: string };
type SvcSpec = { clusterIP?: string; ports?: SvcPort[]; type?: string };

const envName = (s: string) => s.toUpperCase().replace(/-/g, '_');

/** The variables for one Service (none without a cluster IP or ports). */
export function serviceVars(svc: KObject): EnvVar[] {
  const spec = (svc.spec ?? {}) as SvcSpec;
  const ip = spec.clusterIP;
  const ports = (spec.ports ?? []).filter((p) => p && p.port);
  if (!ip || ip === 'None' || spec.type === 'ExternalName' || ports.length === 0) return [];
  const name = envName(svc.metadata?.name ?? '');
  const out: EnvVar[] = [
    { name: `${name}_SERVICE_HOST`, value: ip },
    { name: `${name}_SERVICE_PORT`, value: String(ports[0]!.port) },
  ];
  for (const p of ports) if (p.name) out.push({ name: `${name}_SERVICE_PORT_${envName(p.name)}`, value: String(p.port) });
  const first = ports[0]!;
  out.push({ name: `${name}_PORT`, value: `${(first.protocol ?? 'TCP').toLowerCase()}://${ip}:${first.port}` });
  for (const p of ports) {
    const proto = (p.protocol ?? 'TCP').toLowerCase();
    const prefix = `${name}_PORT_${p.port}_${proto.toUpperCase()}`;
    out.push(
      { name: prefix, value: `${proto}://${ip}:${p.port}` },
      { name: `${prefix}_PROTO`, value: proto },
      { name: `${prefix}_PORT`, value: String(p.port) },
      { name: `${prefix}_ADDR`, value: ip },
    );
  }
  return out;
}

/** Every service variable for a pod, from the Services the kubelet knows now (sorted by name, for a stable result). */
export function serviceEnv(pod: KObject, services: KObject[]): EnvVar[] {
  const ns = pod.metadata?.namespace ?? 'default';
  const links = (pod.spec as { enableServiceLinks?: boolean } | undefined)?.enableServiceLinks !== false;
  const chosen = services
    .filter((s) => {
      const sns = s.metadata?.namespace;
      return (links && sns === ns) || (sns === 'default' && s.metadata?.name === 'kubernetes');
    })
    .sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1));
  const byName = new Map<string, EnvVar>();
  for (const s of chosen) for (const v of serviceVars(s)) byName.set(v.name, v);
  return [...byName.values()];
}

/** The container's env with the service variables first; its own variables of the same name win. */
export function withServiceEnv<C extends { env?: EnvVar[] }>(container: C, vars: EnvVar[]): C {
  if (vars.length === 0) return container;
  const own = new Set((container.env ?? []).map((e) => e.name));
  return { ...container, env: [...vars.filter((v) => !own.has(v.name)), ...(container.env ?? [])] };
}
