/**
 * Phase `data` of `npm run bench -- proxy`: TCP through Keelson's user-space
 * proxy beside haproxy and beside a direct connection, all on 127.0.0.1, in
 * the same run, with the same three backends:
 *
 *   servers  proxy-servers-child.js: three backend servers in one process
 *   keelson  proxy-userspace-child.js: a UserspaceBackend (compiled) with one
 *            service port, its node port on 127.0.0.1, round robin over the three
 *   haproxy  /usr/sbin/haproxy -db, mode tcp, balance roundrobin: one instance
 *            per `--haproxy-threads` entry (default 1, the one thread Keelson's
 *            proxy has, and the core count, what haproxy takes by default)
 *   client   proxy-client-child.js: bulk and rr loads (proxy-load.ts)
 *
 * Direct goes to the first backend alone (no balancing to do).
 */
import { join } from 'node:path';
import { freePort } from '../../services/lib/nats-server/index.js';
import { startHaproxy } from './proxy-haproxy.js';
import { rounds, type LoadSettings, type Run, type Target, type TargetFigures } from './proxy-load.js';
import { CLIENT_READY, SERVERS_READY, USERSPACE_READY, USERSPACE_STATS, type UserspaceChildConfig } from './proxy-protocol.js';
import { rssAfterGc, startNodeChild, type NodeChild, type RssAfterGc } from './node-child.js';
import { rssMB, treePeakRssMB, treePids, treeRssMB, type Cleanup } from './proc.js';
import { formatSlice, loadLargestProfile, sliceProfile } from './cpuprofile.js';

export type DataPhaseInput = {
  buildRoot: string;
  dir: string;
  cleanup: Cleanup;
  log: (s: string) => void;
  settings: LoadSettings;
  /** One haproxy per entry, with that nbthread. */
  haproxyThreads: number[];
  /** Run Keelson's proxy with --cpu-prof into this folder and say where its time went in the last round. */
  profileDir?: string;
};

export type DataPhaseResult = {
  figures: TargetFigures[];
  runs: Run[];
  haproxy: { version: string; instances: { id: string; threads: number; rssMB: number }[] };
  /** RSS of the proxy's process and its forwarders (summed); afterGc is the main process's alone. */
  keelson: { rssMB: number; peakRssMB: number; processes: number; afterGc: RssAfterGc; stats: Record<string, unknown> };
  /** The same proxy run with --forwarders 0. */
  oneProcessRssMB: number;
  /** With profileDir: where Keelson's proxy spent its CPU, bulk and new connections. */
  profile?: string[];
};

const LOCAL = '127.0.0.1';

/** A haproxy target's id, and the name its process has in the cores figures. */
const haproxyId = (threads: number) => `haproxy-${threads}`;

/** Starts a compiled bench child from the build. */
export function benchChild(
  input: { buildRoot: string; cleanup: Cleanup },
  name: string,
  script: string,
  readyMark: string,
  args: string[] = [],
  nodeArgs: string[] = [],
): Promise<NodeChild> {
  return startNodeChild({ name, cwd: input.buildRoot, script: join(input.buildRoot, 'bench', 'lib', script), args, nodeArgs, readyMark, readyTimeoutMs: 120_000, cleanup: input.cleanup });
}

export async function dataPhase(input: DataPhaseInput): Promise<DataPhaseResult> {
  const { cleanup, log } = input;
  const started: { name: string; stop: () => Promise<void> }[] = [];
  // Stopped at the end of the phase, or by the run's cleanup on Ctrl-C (a second stop is a no-op).
  const own = (name: string, stop: () => Promise<void>) => {
    started.push({ name, stop });
    cleanup.add(name, stop);
  };
  try {
    const servers = await benchChild(input, 'backend servers', 'proxy-servers-child.js', SERVERS_READY, [JSON.stringify([`${LOCAL}:0`, `${LOCAL}:0`, `${LOCAL}:0`])]);
    own('backend servers', () => servers.stop());
    const endpoints = (JSON.parse(servers.readyLine) as number[]).map((port) => ({ ip: LOCAL, port }));

    const cfg: UserspaceChildConfig = { bindAddress: LOCAL, nodePort: await freePort(LOCAL), endpoints };
    const profArgs = input.profileDir ? ['--cpu-prof', '--cpu-prof-dir', input.profileDir] : [];
    const keelson = await benchChild(input, 'user-space proxy', 'proxy-userspace-child.js', USERSPACE_READY, [JSON.stringify(cfg)], profArgs);
    own('user-space proxy', () => keelson.stop());
    // The same proxy without forwarders (--forwarders 0): what they add, measured in the same rounds.
    const cfg1: UserspaceChildConfig = { ...cfg, nodePort: await freePort(LOCAL), forwarders: 0 };
    const keelson1 = await benchChild(input, 'user-space proxy, one process', 'proxy-userspace-child.js', USERSPACE_READY, [JSON.stringify(cfg1)]);
    own('user-space proxy, one process', () => keelson1.stop());

    const haproxies = [];
    for (const threads of input.haproxyThreads) {
      const port = await freePort(LOCAL);
      const h = await startHaproxy({ dir: input.dir, port, backends: endpoints, threads, cleanup });
      own(`haproxy (${threads} threads)`, () => h.stop());
      haproxies.push({ ...h, port, id: haproxyId(threads) });
    }

    const client = await benchChild(input, 'load client', 'proxy-client-child.js', CLIENT_READY);
    own('load client', () => client.stop());
    log(
      `backends on ${endpoints.map((e) => e.port).join(', ')}; Keelson node port ${cfg.nodePort} (pid ${keelson.pid}); ` +
        haproxies.map((h) => `haproxy ${h.threads} thread(s) on ${h.port} (pid ${h.pid})`).join(', '),
    );

    const targets: Target[] = [
      { id: 'direct', label: 'direct', host: LOCAL, port: endpoints[0]!.port },
      ...haproxies.map((h) => ({ id: h.id, label: `haproxy, ${h.threads} thread${h.threads > 1 ? 's' : ''}`, host: LOCAL, port: h.port })),
      { id: 'keelson', label: 'Keelson user space', host: LOCAL, port: cfg.nodePort },
      { id: 'keelson1', label: 'Keelson user space, one process', host: LOCAL, port: cfg1.nodePort },
    ];
    const pids: Record<string, number> = { client: client.pid, servers: servers.pid, keelson: keelson.pid, keelson1: keelson1.pid, ...Object.fromEntries(haproxies.map((h) => [h.id, h.pid])) };
    const { figures, runs } = await rounds({
      client,
      targets,
      settings: input.settings,
      pidsFor: () => pids,
      deaths: [servers.died, keelson.died, client.died, ...haproxies.map((h) => h.died)],
      log,
    });

    const statsLine = keelson.nextLine(USERSPACE_STATS, 10_000);
    keelson.send('stats');
    const stats = JSON.parse(await statsLine) as Record<string, unknown>;
    const rss = { rssMB: treeRssMB(keelson.pid), peakRssMB: treePeakRssMB(keelson.pid), processes: treePids(keelson.pid).length };
    const afterGc = await rssAfterGc(keelson);
    const instances = haproxies.map((h) => ({ id: h.id, threads: h.threads, rssMB: rssMB(h.pid) }));
    let profile: string[] | undefined;
    if (input.profileDir) {
      await keelson.stop(); // the profile is written when it exits
      profile = profileSlices(input.profileDir, runs, input.buildRoot);
    }
    return { figures, runs, haproxy: { version: haproxies[0]?.version ?? '', instances }, keelson: { ...rss, afterGc, stats }, oneProcessRssMB: rssMB(keelson1.pid), profile };
  } finally {
    for (const s of started.reverse()) await s.stop().catch((e: Error) => log(`stopping ${s.name}: ${e.message}`));
  }
}

/** Where Keelson's proxy spent its CPU in the last round's bulk and new-connection loads. */
function profileSlices(dir: string, runs: Run[], buildRoot: string): string[] {
  const loaded = loadLargestProfile(dir);
  if (!loaded) return [`no CPU profile found in ${dir}`];
  const last = Math.max(...runs.map((r) => r.round));
  return runs
    .filter((r) => r.target === 'keelson' && r.round === last)
    .map((r) => formatSlice(`Keelson user-space proxy, ${r.kind === 'bulk' ? 'bulk' : 'new connections'} (round ${last + 1})`, sliceProfile(loaded.profile, r.startMs * 1000, r.endMs * 1000, buildRoot)));
}
