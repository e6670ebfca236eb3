/**
 * `npm run bench -- proxy`: the proxy's data plane and sync (tracker issue
 * 5), every figure beside its baseline measured in the same run.
 *
 * Builds the code measured with tsc into a temp dir, then:
 *
 *   data      TCP through Keelson's user-space proxy (a UserspaceBackend in a
 *             child), through haproxy (mode tcp, roundrobin, same backends)
 *             and straight to a backend, all on 127.0.0.1: bulk throughput
 *             and new-connection rate, interleaved rounds
 *             (bench/lib/proxy-data-phase.ts). Target: ≥ 0.8× haproxy.
 *   iptables  (root) the same loads inside a network namespace the bench
 *             creates: to a cluster IP through Keelson's iptables rules, and
 *             straight to an endpoint's IP (bench/lib/proxy-iptables-phase.ts).
 *             Target: ≥ 0.95× direct.
 *   sync      its own nats-server and API server with --services Services and
 *             Endpoints; the proxy front door in a child (user space, then
 *             iptables as root); --changes writes one at a time: write call →
 *             synced, beside write call → seen by a bare store watch
 *             (bench/lib/proxy-sync-phase.ts). Target: p99 ≤ 100 ms.
 *
 * No packet leaves loopback or the benchmark's own network namespaces.
 * Prints a table and writes it (JSON + markdown) to bench/results/. Every wait
 * is bounded; everything started (children, haproxy, nats-server, API server,
 * network namespaces, temp dir) is stopped or removed at the end, on failure
 * and on Ctrl-C.
 */
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KeelsonClient } from '../services/lib/client/index.js';
import { startNatsServer } from '../services/lib/nats-server/index.js';
import { startApiServerChild } from './lib/apiserver.js';
import { startBenchRun } from './lib/bench-run.js';
import { dataPhase } from './lib/proxy-data-phase.js';
import { haproxyVersion } from './lib/proxy-haproxy.js';
import { iptablesPhase } from './lib/proxy-iptables-phase.js';
import type { LoadSettings } from './lib/proxy-load.js';
import { WARMUP_S, writeProxyReport, type ProxyResults } from './lib/proxy-report.js';
import { NODE_PORT_RANGE, syncPhase } from './lib/proxy-sync-phase.js';
import { intFlag } from './lib/flags.js';
import type { Scenario } from './lib/scenario.js';
import { build, machine, prepareSource } from './lib/source.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const WATCHDOG_MS = 40 * 60_000;
const PHASES = ['data', 'iptables', 'sync', 'all'] as const;

const USAGE = `  --phase P            data | iptables | sync | all (default all); iptables and the sync's iptables part need root
  --seconds S          per load and target in the data and iptables phases (default 5)
  --rounds N           interleaved rounds of every target (default 3)
  --connections N      bulk: parallel connections (default 4)
  --in-flight N        new connections: exchanges in flight, closed loop (default 16)
  --bulk-mb N          bulk: MB asked for per connection before it opens the next (default 256)
  --haproxy-threads L  one haproxy per nbthread in the comma-separated list (default 1,<cores>: the one thread
                       Keelson's proxy has, and what haproxy takes by default)
  --services N         Services in the sync phase, and service ports in the iptables phase's big rule set (default 1000)
  --changes N          Service/Endpoints writes timed in the sync phase, per backend (default 200)
  --gap-ms MS          pause after each change is synced: MS to 2 × MS (default 20)
  --timeout S          for any one wait (default 60)
  --profile            run Keelson's user-space proxy with --cpu-prof, print where its time went in the last
                       round's loads, and keep the profile in <out>/proxy-<date>-cpuprofile/
  --ref REF            measure a clean export of a git ref instead of the working tree
  --out DIR            where results go (default bench/results)`;

export type ProxyBenchOptions = {
  phase: (typeof PHASES)[number];
  seconds: number;
  rounds: number;
  connections: number;
  inFlight: number;
  bulkMB: number;
  haproxyThreads: number[];
  services: number;
  changes: number;
  gapMs: number;
  timeoutMs: number;
  profile: boolean;
  ref?: string;
  out: string;
};

function parseOptions(argv: string[]): ProxyBenchOptions {
  const str = { type: 'string' } as const;
  const { values: v } = parseArgs({
    args: argv,
    options: {
      phase: str,
      seconds: str,
      rounds: str,
      connections: str,
      'in-flight': str,
      'bulk-mb': str,
      'haproxy-threads': str,
      services: str,
      changes: str,
      'gap-ms': str,
      timeout: str,
      profile: { type: 'boolean', default: false },
      ref: str,
      out: str,
    },
  });
  const phase = v.phase ?? 'all';
  if (!(PHASES as readonly string[]).includes(phase)) throw new Error(`--phase must be one of ${PHASES.join(', ')}, not ${phase}`);
  return {
    phase: phase as ProxyBenchOptions['phase'],
    seconds: intFlag(v.seconds, 5, 'seconds', 1, 120),
    rounds: intFlag(v.rounds, 3, 'rounds', 1, 20),
    connections: intFlag(v.connections, 4, 'connections', 1, 256),
    inFlight: intFlag(v['in-flight'], 16, 'in-flight', 1, 1024),
    bulkMB: intFlag(v['bulk-mb'], 256, 'bulk-mb', 1, 16_384),
    haproxyThreads: threadList(v['haproxy-threads']),
    services: intFlag(v.services, 1000, 'services', 1, 2000),
    changes: intFlag(v.changes, 200, 'changes', 1, 10_000),
    gapMs: intFlag(v['gap-ms'], 20, 'gap-ms', 0, 10_000),
    timeoutMs: intFlag(v.timeout, 60, 'timeout', 5, 600) * 1000,
    profile: v.profile ?? false,
    ref: v.ref,
    out: v.out ?? join(here, 'results'),
  };
}

function threadList(s: string | undefined): number[] {
  const list = [...new Set(s === undefined ? [1, cpus().length] : s.split(',').map(Number))];
  if (!list.length || list.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) throw new Error(`--haproxy-threads must be a comma-separated list of integers in 1..64, not ${s}`);
  return list;
}

async function run(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  const wants = (p: 'data' | 'iptables' | 'sync') => o.phase === 'all' || o.phase === p;
  if (wants('data')) haproxyVersion(); // fails now, with the fix, rather than after the build
  const { cleanup, stamp, log, ...bench } = startBenchRun('proxy', WATCHDOG_MS);
  const dir = bench.tempDir();
  const results: ProxyResults = { skipped: [] };
  const settings: LoadSettings = {
    seconds: o.seconds,
    rounds: o.rounds,
    bulkConnections: o.connections,
    rrInFlight: o.inFlight,
    bulkBytes: o.bulkMB * 1024 * 1024,
    warmupSeconds: WARMUP_S,
  };
  try {
    const source = prepareSource(root, o.ref, dir);
    const built = build(source, join(dir, 'build'));
    log(`measuring ${source.description}; built into ${built.root}`);
    const common = { buildRoot: built.root, cleanup, log };

    if (wants('data')) {
      log('data: Keelson user space vs haproxy vs direct, on 127.0.0.1');
      const profileDir = o.profile ? join(o.out, `proxy-${stamp}-cpuprofile`) : undefined;
      if (profileDir) mkdirSync(profileDir, { recursive: true });
      results.data = await dataPhase({ ...common, dir, settings, haproxyThreads: o.haproxyThreads, profileDir });
    }
    if (wants('iptables')) {
      log('iptables: cluster IP vs direct, inside a network namespace');
      results.iptables = await iptablesPhase({ ...common, settings, services: o.services });
      if ('skipped' in results.iptables) {
        log(`iptables phase skipped: ${results.iptables.skipped}`);
        results.skipped.push(`iptables phase: ${results.iptables.skipped}`);
      }
    }
    if (wants('sync')) {
      const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
      cleanup.killOnExit(nats.pid);
      cleanup.add('nats-server', () => nats.stop());
      const api = await startApiServerChild({ root: source.root, natsUrl: nats.url, compiledMain: built.cliMain, args: ['--service-node-port-range', NODE_PORT_RANGE] });
      cleanup.killOnExit(api.pid);
      cleanup.add('API server', () => api.stop());
      const client = await KeelsonClient.connect(nats.url, 'keelson-bench-proxy', { timeoutMs: 30_000 });
      cleanup.add('bench client', () => client.close());
      log(`sync: nats-server ${nats.url} (pid ${nats.pid}); API server ${api.url} (pid ${api.pid}, compiled)`);
      results.sync = await syncPhase({
        ...common,
        client,
        natsUrl: nats.url,
        pids: { api: api.pid, nats: nats.pid },
        services: o.services,
        changes: o.changes,
        gapMs: o.gapMs,
        timeoutMs: o.timeoutMs,
        backends: ['userspace', 'iptables'],
      });
      results.skipped.push(...results.sync.skipped.map((s) => `sync phase, ${s}`));
    }
    writeProxyReport({ options: o, results, code: source.description, machine: machine(), stamp });
  } finally {
    await bench.finish();
  }
}

const scenario: Scenario = {
  name: 'proxy',
  description: 'proxy: user-space TCP vs haproxy, iptables vs direct, sync after a Service/Endpoints change with 1,000 Services (~7 min)',
  usage: USAGE,
  run,
};
export default scenario;
