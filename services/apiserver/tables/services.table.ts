/** `kubectl get services`: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE | SELECTOR. */
import type { KObject } from '../../lib/api/resources.js';
import { age } from './age.js';
import { ageColumn, arr, column, formatLabels, nameColumn, num, rec, str, strMap, wide } from './format.js';
import type { Printer } from './types.js';

/** `80/TCP`, `80:30080/TCP`, comma separated; '' without ports. */
export function servicePorts(ports: unknown): string {
  return arr(ports)
    .map(rec)
    .map((p) => {
      const protocol = str(p.protocol) || 'TCP';
      const nodePort = num(p.nodePort);
      return nodePort > 0 ? `${num(p.port)}:${nodePort}/${protocol}` : `${num(p.port)}/${protocol}`;
    })
    .join(',');
}

/**
 * Load balancer ingress IPs / hostnames. The API server renders tables in wide mode,
 * so the list is never shortened with `...` the way kubectl's own printer does.
 */
function loadBalancerIPs(svc: KObject): string[] {
  const ingress = arr(rec(rec(svc.status).loadBalancer).ingress).map(rec);
  return ingress.map((i) => str(i.ip) || str(i.hostname)).filter((x) => x !== '');
}

/** The EXTERNAL-IP cell: external IPs, load balancer ingress, `<pending>`, or `<none>`. */
export function serviceExternalIP(svc: KObject, type: string): string {
  const spec = rec(svc.spec);
  const externalIPs = arr(spec.externalIPs).map(str).filter((x) => x !== '');
  switch (type) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length > 0 ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const all = [...loadBalancerIPs(svc), ...externalIPs];
      return all.length > 0 ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return str(spec.externalName);
    default:
      return '<unknown>';
  }
}

export const servicePrinter: Printer = {
  columns: [
    nameColumn(),
    column('Type', 'string', 'How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName.'),
    column('Cluster-IP', 'string', 'The virtual IP of the service inside the cluster.'),
    column('External-IP', 'string', 'IPs outside the cluster that also reach the service.'),
    column('Port(s)', 'string', 'The ports the service exposes.'),
    ageColumn(),
    wide('Selector', 'string', 'Pods with these labels receive the traffic.'),
  ],
  cells(svc, { now }) {
    const spec = rec(svc.spec);
    const type = str(spec.type) || 'ClusterIP';
    // As kubectl prints it: every family's address (one here), `None` for a headless service.
    const clusterIP = arr(spec.clusterIPs).map(str).filter((x) => x !== '').join(',') || str(spec.clusterIP) || '<none>';
    const ports = servicePorts(spec.ports);
    return [
      str(svc.metadata?.name),
      type,
      clusterIP,
      serviceExternalIP(svc, type),
      ports || '<none>',
      age(svc.metadata?.creationTimestamp, now),
      formatLabels(strMap(spec.selector)),
    ];
  },
};
