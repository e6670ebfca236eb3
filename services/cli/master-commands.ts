/**
 * The master's commands: `keelson apiserver` (the API server alone) and
 * `keelson server` (one master's whole control plane in one process: the API
 * server, and a scheduler and a controller-manager candidate, leader-elected
 * against the other masters'). Three `keelson server` processes on three NATS
 * servers of one cluster are the HA control plane (docker-compose.yml).
 */
import { NATS_FLAGS, natsFlagTarget } from './nats-flags.js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { APISERVER_USER, CONTROLLER_MANAGER_USER, credentialsFileName, readNatsCredential, SCHEDULER_USER } from '../lib/nats-auth/index.js';
import type { NatsTarget } from '../lib/nats/index.js';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../apiserver/index.js';
import { KeelsonClient } from '../lib/client/index.js';
import { CONTROL_LOOP_FLAGS, nodeLifecycleFlags, startControlLoop, wholeFlag, type ControlLoop } from './control-loops.js';

export const MASTER_HELP = `  server             One master's control plane: the API server, and a scheduler and a controller-manager
                     candidate (leader-elected against the other masters'); the apiserver's flags and
      --scheduler-port N, --controller-manager-port N   their health/metrics (default 10251, 10252, on --host)
      --identity ID, --node-grace-ms N, --eviction-ms N, --unreachable-eviction-ms N
                         as for the scheduler and controller-manager below
  apiserver          The API server: HTTP on --port (6443) and the NATS API
      --port N, --host ADDR   where it serves (default 6443 on 0.0.0.0)
      --replicas N       JetStream replicas of the store bucket (1, or 3 for HA)
      --service-cluster-ip-range CIDR   where Services' cluster IPs come from (default 10.96.0.0/16)
      --service-node-port-range MIN-MAX where node ports come from (default 30000-32767)
      --advertise-address IP            this API server in the default/kubernetes Endpoints
                         (default: --host if it is one address, else the first non-loopback IPv4)
      --log-requests     one log line per request (never a credential)
      --nats-credentials-dir DIR   (keelson server) the API server, the scheduler and the controller-manager
                         each as its own NATS user, from DIR/<user>.json (system:apiserver.json, ...)
      --tls-cert-file F, --tls-private-key-file F   serve HTTPS with this certificate and key (PEM)
      --client-ca-file F  accept client certificates this CA signed (CN = user, O = groups)
      --token-auth-file F bearer tokens, one "token,user,uid,\"group1,group2\"" per line (read again when
                          it changes); with either of these two, a request without valid credentials gets 401
      --requestheader-allowed-names N[,N]  client certificate CNs of authenticating proxies (a load balancer
                          that checked the user): their X-Remote-User / X-Remote-Group headers name the user,
                          and only their Keelson-Request-Id is trusted
`;

const APISERVER_FLAGS = {
  ...NATS_FLAGS,
  port: { type: 'string', default: '6443' },
  host: { type: 'string', default: '0.0.0.0' },
  replicas: { type: 'string', default: '1' },
  bucket: { type: 'string' },
  'log-requests': { type: 'boolean', default: false },
  'service-cluster-ip-range': { type: 'string' },
  'service-node-port-range': { type: 'string' },
  'advertise-address': { type: 'string' },
  'tls-cert-file': { type: 'string' },
  'tls-private-key-file': { type: 'string' },
  'client-ca-file': { type: 'string' },
  'token-auth-file': { type: 'string' },
  'requestheader-allowed-names': { type: 'string' },
} as const;

type ApiserverValues = { [K in keyof typeof APISERVER_FLAGS]?: (typeof APISERVER_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

function apiserverOptions(values: ApiserverValues): ApiServerOptions {
  const replicas = wholeFlag(values.replicas, '--replicas');
  if (replicas !== 1 && replicas !== 3 && replicas !== 5) throw new Error(`--replicas must be 1, 3 or 5, not "${values.replicas}"`);
  return {
    nats: natsFlagTarget(values),
    port: wholeFlag(values.port, '--port'),
    host: values.host,
    replicas,
    bucket: values.bucket,
    logRequests: values['log-requests'],
    serviceClusterIPRange: values['service-cluster-ip-range'],
    serviceNodePortRange: values['service-node-port-range'],
    advertiseAddress: values['advertise-address'],
    ...securityOptions(values),
  };
}

/** HTTPS and authentication from their flags; files are read now, so a wrong path fails the start. */
function securityOptions(values: ApiserverValues): Pick<ApiServerOptions, 'tls' | 'authentication'> {
  const cert = values['tls-cert-file'];
  const key = values['tls-private-key-file'];
  const clientCA = values['client-ca-file'];
  const tokenAuthFile = values['token-auth-file'];
  const proxies = values['requestheader-allowed-names']?.split(',').map((n) => n.trim()).filter(Boolean);
  if (proxies?.length && !clientCA) throw new Error('--requestheader-allowed-names needs --client-ca-file: the proxy is known by its client certificate');
  if (Boolean(cert) !== Boolean(key)) throw new Error('--tls-cert-file and --tls-private-key-file go together');
  if (clientCA && !cert) throw new Error('--client-ca-file needs HTTPS: give --tls-cert-file and --tls-private-key-file too');
  // Bearer tokens over plain HTTP can be read by anyone on the way.
  if (tokenAuthFile && !cert) throw new Error('--token-auth-file needs HTTPS: give --tls-cert-file and --tls-private-key-file too');
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  return {
    ...(cert && key
      ? { tls: { cert: read(cert, '--tls-cert-file'), key: read(key, '--tls-private-key-file'), ...(clientCA ? { clientCA: read(clientCA, '--client-ca-file') } : {}) } }
      : {}),
    ...(clientCA || tokenAuthFile ? { authentication: { tokenAuthFile, ...(proxies?.length ? { requestHeader: { allowedNames: proxies } } : {}) } } : {}),
  };
}

/** `keelson apiserver`. */
export async function runApiserver(argv: string[], onStop: (stop: () => Promise<void>) => void): Promise<void> {
  const { values } = parseArgs({ args: argv, options: APISERVER_FLAGS });
  const server = await startApiServer(apiserverOptions(values));
  onStop(server.stop);
  process.stdout.write(`keelson apiserver serving on ${server.url}\n`);
}

/** `keelson server`: the API server first (the loops need the API), then both candidates; stopped in reverse. */
export async function runServer(argv: string[], onStop: (stop: () => Promise<void>) => void): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...APISERVER_FLAGS,
      ...CONTROL_LOOP_FLAGS,
      'scheduler-port': { type: 'string', default: '10251' },
      'controller-manager-port': { type: 'string', default: '10252' },
      'nats-credentials-dir': { type: 'string' },
    },
  });
  // Each component of the master as its own NATS user, from one folder of credentials files.
  const dir = values['nats-credentials-dir'];
  const base = apiserverOptions(values);
  const as = (user: string): NatsTarget =>
    dir ? { ...(base.nats as NatsTarget), credential: readNatsCredential(join(dir, credentialsFileName(user))) } : (base.nats as NatsTarget);
  const options = { ...base, nats: as(APISERVER_USER), ...(values.identity ? { identity: values.identity } : {}) };
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const loopOptions = {
    host: values.host,
    identity: values.identity,
    ...nodeLifecycleFlags(values),
    log,
  };
  const schedulerPort = wholeFlag(values['scheduler-port'], '--scheduler-port')!;
  const controllerManagerPort = wholeFlag(values['controller-manager-port'], '--controller-manager-port')!;

  const apiserver: ApiServer = await startApiServer(options);
  const clients: KeelsonClient[] = [];
  const loops: ControlLoop[] = [];
  const stop = async () => {
    // The loops hand their leases over first, while the API server still answers them.
    await Promise.all(loops.splice(0).map((l) => l.stop().catch((e: Error) => log(`keelson server: ${l.election}: ${e.message}`))));
    await Promise.all(clients.map((c) => c.close()));
    await apiserver.stop();
  };
  try {
    const connect = async (user: string, name: string) => {
      const c = await KeelsonClient.connect(as(user), name);
      clients.push(c);
      return c;
    };
    const scheduler = await connect(SCHEDULER_USER, 'keelson-server-scheduler');
    loops.push(await startControlLoop('scheduler', { ...loopOptions, client: scheduler, port: schedulerPort }));
    const controllers = await connect(CONTROLLER_MANAGER_USER, 'keelson-server-controller-manager');
    loops.push(await startControlLoop('controller-manager', { ...loopOptions, client: controllers, port: controllerManagerPort }));
  } catch (e) {
    await stop();
    throw e;
  }
  onStop(stop);
  process.stdout.write(
    `keelson server: API server on ${apiserver.url}; ` +
      loops.map((l) => `${l.election} candidate ${l.identity} (health ${l.healthUrl})`).join('; ') +
      '\n',
  );
}
