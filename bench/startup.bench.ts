/**
 * `npm run bench -- startup`: pod startup on the Docker runtime against raw Docker.
 *
 * Starts its own nats-server (temp dir), the API server as a child process and
 * one kubelet on the docker runtime as a child process (bench/lib/kubelet-child.ts,
 * on a private Docker network), then, for N iterations (sequential), measures:
 *
 *   keelson   create a busybox pod (`sleep 3600`, IfNotPresent, spec.nodeName set)
 *             through KeelsonClient; time from the create call's start to the
 *             moment a store watch on pods sees status.phase Running
 *   raw ×1    dockerode createContainer + start, same image and command, same network
 *   raw ×2    the same plus a sandbox-like container first (the kubelet's sandbox
 *             command, on the network), the main one joined with NetworkMode and
 *             IpcMode container:<sandbox id>: what the kubelet asks Docker for
 *
 * The three run interleaved in every iteration (raw ×1, raw ×2, keelson) after
 * a few untimed warm-up iterations, so that drift hits them alike. Everything
 * it created stays running until the end (the engine holds the same number of
 * containers for both), then is deleted. Every pod and container carries a
 * label of this run; the cleanup deletes the pods through the API, stops the
 * kubelet, force-removes any container left with the run's labels and removes
 * the network — in a finally block and on SIGINT/SIGTERM. Every wait is bounded.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import type { KObject } from '../services/lib/api/resources.js';
import { KeelsonClient } from '../services/lib/client/index.js';
import { startNatsServer } from '../services/lib/nats-server/index.js';
import type { StoreWatch } from '../services/lib/store/index.js';
import { startApiServerChild, type ApiServerChild } from './lib/apiserver.js';
import { Cleanup, cpuSeconds, machineBusySeconds, peakRssMB, rssMB, sleep, withTimeout } from './lib/proc.js';
import { startBenchRun } from './lib/bench-run.js';
import { intFlag } from './lib/flags.js';
import type { Scenario } from './lib/scenario.js';
import { nowMs, Samples, type Summary } from './lib/stats.js';
import { fmt, markdownTable, ratio, textTable, type Row } from './lib/table.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

const NS = 'bench-startup';
const IMAGE = 'busybox:latest';
const COMMAND = ['sleep', '3600'];
/** The kubelet's sandbox command (services/kubelet/runtime/docker-spec.ts). */
const SANDBOX_COMMAND = ['sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 86400 & wait $!; done'];
const RUN_LABEL = 'bench.keelson.io/startup-run';
const TARGET = 1.5;

const USAGE = `  --pods N        timed iterations: N pods, N raw single containers, N raw pairs (default 30)
  --warmup N      untimed iterations first (default 2)
  --timeout S     per pod: seconds to wait for Running before the run fails (default 60)
  --out DIR       where results go (default bench/results)`;

type Options = { pods: number; warmup: number; timeoutMs: number; out: string };

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { pods: { type: 'string' }, warmup: { type: 'string' }, timeout: { type: 'string' }, out: { type: 'string' } },
  });
  return {
    pods: intFlag(values.pods, 30, 'pods', 1, 500),
    warmup: intFlag(values.warmup, 2, 'warmup', 0, 20),
    timeoutMs: intFlag(values.timeout, 60, 'timeout', 1, 600) * 1000,
    out: values.out ?? join(here, 'results'),
  };
}

type KubeletChild = { pid: number; stop(): Promise<void>; stderr(): string };

/** The kubelet as a child process on a private network; resolves once it printed its ready line. */
async function startKubeletChild(natsUrl: string, nodeName: string, network: string, dataDir: string, cleanup: Cleanup): Promise<KubeletChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'lib', 'kubelet-child.ts'), natsUrl, nodeName, network, dataDir], {
    cwd: root,
    // Its own process group: Ctrl-C reaches the benchmark, which stops it in order.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  cleanup.killOnExit(child.pid!);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8_000)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stdout = '';
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (c: Buffer) => {
          stdout += c.toString();
          if (stdout.includes('KUBELET-READY')) resolve();
        });
        void exited.then((code) => reject(new Error(`the kubelet exited (code ${code}) before it was ready:\n${stderr}`)));
      }),
      60_000,
      'kubelet start',
    );
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    pid: child.pid!,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 12_000);
      await exited;
      clearTimeout(timer);
      cleanup.forget(child.pid!);
    },
  };
}

function pod(name: string, nodeName: string, runId: string): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { [RUN_LABEL]: runId } },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 1,
      restartPolicy: 'Always',
      containers: [{ name: 'main', image: IMAGE, imagePullPolicy: 'IfNotPresent', command: COMMAND }],
    },
  };
}

/** Runs `fn` over `items`, `width` at a time. */
async function parallel<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

type Results = {
  keelson: Summary;
  createCall: Summary;
  rawSingle: Summary;
  rawPair: Summary;
  kubelet: { rssStartMB: number; rssEndMB: number; peakMB: number; cpuSeconds: number };
  cores: { wallSeconds: number; kubelet: number; api: number; nats: number; bench: number; other: number };
  iterations: number;
  leftovers: { pods: number; containers: number };
};

async function run(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  const { cleanup, stamp, log, ...bench } = startBenchRun('startup', 10 * 60_000);
  const runId = `${process.pid}-${Date.now().toString(36)}`;
  const network = `keelson-bench-${runId}`;
  const nodeName = `bench-startup-${runId}`;

  // The same API version the runtime pins (dockerode does not negotiate).
  const apiVersion = (await new Docker({ timeout: 10_000 }).version()).ApiVersion;
  const docker = new Docker({ version: `v${apiVersion}` });
  await docker.getImage(IMAGE).inspect().catch((e: unknown) => {
    throw new Error(`the image ${IMAGE} is not on this engine (${(e as Error).message}); run scripts/build-images.sh`);
  });

  const dir = bench.tempDir();
  const rawIds: string[] = [];
  let api: ApiServerChild | undefined;
  let kubelet: KubeletChild | undefined;
  let client: KeelsonClient | undefined;
  let watch: StoreWatch | undefined;
  let natsPid = 0;
  const leftovers = { pods: 0, containers: 0 };
  let aborted = false;

  /** Every container of this run on the engine: the kubelet's (by namespace label) and the raw ones. */
  const ourContainers = async () => {
    const [a, b] = await Promise.all([
      docker.listContainers({ all: true, filters: { label: [`io.keelson.namespace=${NS}`] } }),
      docker.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId}`] } }),
    ]);
    return [...new Set([...a, ...b].map((c) => c.Id))];
  };
  const removeContainers = async (ids: string[]) => {
    await parallel(ids, 8, async (id) => {
      await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    });
  };
  const deletePods = async (boundMs: number) => {
    if (!client) return;
    const deadline = nowMs() + boundMs;
    let left = Infinity;
    // Deletes whatever is listed, again each round: a create in flight when this started lands later.
    for (let round = 0; left > 0 && nowMs() < deadline && round < 100; round++) {
      if (round) await sleep(500);
      const names = (await client.list('pods', NS)).items.map((p) => p.metadata!.name!);
      left = names.length;
      await parallel(names, 8, async (n) => {
        await client!.delete('pods', NS, n, { gracePeriodSeconds: 0 }).catch(() => undefined);
      });
    }
    leftovers.pods = left;
    if (left) log(`${left} pods still listed after ${boundMs} ms (their containers are force-removed next)`);
  };

  try {
    // --- start everything ----------------------------------------------------
    const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    natsPid = nats.pid;
    cleanup.killOnExit(nats.pid);
    cleanup.add('nats-server', () => nats.stop());
    log(`nats-server ${nats.url} (pid ${nats.pid})`);
    api = await startApiServerChild({ root, natsUrl: nats.url });
    const apiChild = api;
    cleanup.killOnExit(api.pid);
    cleanup.add('API server', () => apiChild.stop());
    log(`API server ${api.url} (pid ${api.pid}, ${api.mode})`);
    client = await KeelsonClient.connect(nats.url, 'keelson-bench-startup');
    const c = client;
    cleanup.add('client', () => c.close());
    cleanup.add('docker network', async () => {
      await docker.getNetwork(network).remove().catch((e: { statusCode?: number; message: string }) => {
        if (e.statusCode !== 404) throw e;
      });
    });
    cleanup.add('containers of this run', async () => {
      const ids = await ourContainers();
      leftovers.containers = ids.filter((id) => !rawIds.includes(id)).length;
      await removeContainers(ids);
    });
    // The network the kubelet's runtime would create; made here so that raw containers use it from the first one.
    await docker.createNetwork({ Name: network, Driver: 'bridge', Labels: { [RUN_LABEL]: runId } });
    kubelet = await startKubeletChild(nats.url, nodeName, network, join(dir, 'node'), cleanup);
    const kubeletChild = kubelet;
    cleanup.add('kubelet', () => kubeletChild.stop());
    cleanup.add('pods of this run', () => deletePods(12_000));
    log(`kubelet ${nodeName} on network ${network} (pid ${kubelet.pid})`);
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });

    // --- the watch that sees Running -----------------------------------------
    const waiters = new Map<string, (t: number) => void>();
    watch = await client.watch('pods', NS, (ev) => {
      const t = nowMs();
      const phase = (ev.object as { status?: { phase?: string } } | undefined)?.status?.phase;
      if (phase !== 'Running') return;
      const w = waiters.get(ev.key.name);
      if (w) {
        waiters.delete(ev.key.name);
        w(t);
      }
    });
    const w = watch;
    cleanup.add('watch', () => w.stop());
    // Runs first on Ctrl-C: the loop stops starting things.
    cleanup.add('stop the loop', () => {
      aborted = true;
    });
    await withTimeout(watch.synced, 10_000, 'pods watch sync');

    const startPod = async (name: string): Promise<{ total: number; createCall: number }> => {
      if (aborted) throw new Error('stopped');
      let resolveRunning!: (t: number) => void;
      const running = new Promise<number>((r) => (resolveRunning = r));
      waiters.set(name, resolveRunning);
      const start = nowMs();
      try {
        await client!.create(pod(name, nodeName, runId));
        const createCall = nowMs() - start;
        const at = await withTimeout(running, o.timeoutMs, `pod ${name} Running`);
        return { total: at - start, createCall };
      } finally {
        waiters.delete(name);
      }
    };
    const rawStart = async (opts: Docker.ContainerCreateOptions): Promise<string> => {
      if (aborted) throw new Error('stopped');
      const ct = await docker.createContainer(opts);
      rawIds.push(ct.id);
      if (aborted) {
        await ct.remove({ force: true }).catch(() => undefined);
        throw new Error('stopped');
      }
      await ct.start();
      return ct.id;
    };
    const labels = { [RUN_LABEL]: runId };
    const rawSingle = async (i: number) => {
      const start = nowMs();
      await rawStart({ name: `bench-startup-raw1-${runId}-${i}`, Image: IMAGE, Cmd: COMMAND, Labels: labels, HostConfig: { NetworkMode: network, RestartPolicy: { Name: 'no' } } });
      return nowMs() - start;
    };
    const rawPair = async (i: number) => {
      const start = nowMs();
      const sandbox = await rawStart({
        name: `bench-startup-raw2-${runId}-${i}-pod`,
        Image: IMAGE,
        Cmd: SANDBOX_COMMAND,
        Entrypoint: [],
        Labels: labels,
        HostConfig: { NetworkMode: network, IpcMode: 'shareable', RestartPolicy: { Name: 'no' } },
      });
      const joined = `container:${sandbox}`;
      await rawStart({
        name: `bench-startup-raw2-${runId}-${i}-main`,
        Image: IMAGE,
        Cmd: COMMAND,
        Labels: labels,
        HostConfig: { NetworkMode: joined, IpcMode: joined, RestartPolicy: { Name: 'no' } },
      });
      return nowMs() - start;
    };

    // --- measure ---------------------------------------------------------------
    await sleep(1_000);
    const kubeletRssStart = rssMB(kubelet.pid);
    const keelson = new Samples(o.pods);
    const createCall = new Samples(o.pods);
    const single = new Samples(o.pods);
    const pair = new Samples(o.pods);
    const total = o.warmup + o.pods;
    const loopDeadline = nowMs() + 6 * 60_000;
    const cpu0 = { t: nowMs(), kubelet: cpuSeconds(kubelet.pid), api: cpuSeconds(api.pid), nats: cpuSeconds(natsPid), bench: benchCpu(), machine: machineBusySeconds() };
    for (let i = 0; i < total; i++) {
      if (aborted) throw new Error('stopped');
      if (nowMs() > loopDeadline) throw new Error(`the measurement took over 6 minutes; stopped after ${i} of ${total} iterations`);
      const timed = i >= o.warmup;
      const s = await withTimeout(rawSingle(i), o.timeoutMs, `raw container ${i}`);
      const p = await withTimeout(rawPair(i), o.timeoutMs, `raw pair ${i}`);
      const k = await startPod(`startup-${String(i).padStart(4, '0')}`);
      if (timed) {
        single.push(s);
        pair.push(p);
        keelson.push(k.total);
        createCall.push(k.createCall);
      }
      log(`${timed ? 'iteration' : 'warm-up  '} ${i + 1}/${total}: raw ×1 ${fmt(s)} ms, raw ×2 ${fmt(p)} ms, keelson ${fmt(k.total)} ms (create call ${fmt(k.createCall)} ms)`);
      await sleep(100);
    }
    const cpu1 = { t: nowMs(), kubelet: cpuSeconds(kubelet.pid), api: cpuSeconds(api.pid), nats: cpuSeconds(natsPid), bench: benchCpu(), machine: machineBusySeconds() };
    const wall = (cpu1.t - cpu0.t) / 1000;
    const cores = (a: number, b: number) => (b - a) / wall;
    const ours = cores(cpu0.kubelet, cpu1.kubelet) + cores(cpu0.api, cpu1.api) + cores(cpu0.nats, cpu1.nats) + cores(cpu0.bench, cpu1.bench);
    await sleep(1_000);
    const results: Results = {
      keelson: keelson.summary(),
      createCall: createCall.summary(),
      rawSingle: single.summary(),
      rawPair: pair.summary(),
      kubelet: { rssStartMB: kubeletRssStart, rssEndMB: rssMB(kubelet.pid), peakMB: peakRssMB(kubelet.pid), cpuSeconds: cpu1.kubelet - cpu0.kubelet },
      cores: {
        wallSeconds: wall,
        kubelet: cores(cpu0.kubelet, cpu1.kubelet),
        api: cores(cpu0.api, cpu1.api),
        nats: cores(cpu0.nats, cpu1.nats),
        bench: cores(cpu0.bench, cpu1.bench),
        other: Math.max(0, cores(cpu0.machine, cpu1.machine) - ours),
      },
      iterations: o.pods,
      leftovers,
    };

    // --- delete what was made (normal path; the cleanup repeats it as a fallback) ---
    log('deleting pods and containers');
    watch.stop().catch(() => undefined);
    await deletePods(30_000);
    await kubelet.stop();
    const left = await ourContainers();
    leftovers.containers = left.filter((id) => !rawIds.includes(id)).length;
    await withTimeout(removeContainers(left), 120_000, 'container removal');
    const still = (await ourContainers()).length;
    if (still) throw new Error(`${still} containers of this run are still there after removal`);
    log(`removed ${left.length} containers (${leftovers.containers} left by the kubelet after the pods were deleted)`);

    report(o, results, api.mode, stamp);
  } catch (e) {
    if (kubelet) process.stderr.write(`kubelet stderr (last lines):\n${kubelet.stderr().split('\n').slice(-20).join('\n')}\n`);
    throw e;
  } finally {
    await bench.finish();
  }
}

function benchCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function report(o: Options, r: Results, apiMode: string, stamp: string): void {
  const ms = (s: Summary) => `${fmt(s.p50)} / ${fmt(s.p99)} ms`;
  const rows: Row[] = [
    {
      measure: `pod startup, ${r.iterations} pods sequential: p50 / p99`,
      Keelson: ms(r.keelson),
      'raw Docker': `${ms(r.rawPair)} (sandbox + joined container)`,
      ratio: `${ratio(r.keelson.p50, r.rawPair.p50)} / ${ratio(r.keelson.p99, r.rawPair.p99)}`,
      target: `p99 ≤ ${TARGET}× raw`,
      'met?': r.keelson.p99 <= TARGET * r.rawPair.p99 ? 'yes' : 'NO',
    },
    {
      measure: 'the same against one container: p50 / p99',
      Keelson: ms(r.keelson),
      'raw Docker': `${ms(r.rawSingle)} (create + start)`,
      ratio: `${ratio(r.keelson.p50, r.rawSingle.p50)} / ${ratio(r.keelson.p99, r.rawSingle.p99)}`,
      target: `p99 ≤ ${TARGET}× raw`,
      'met?': r.keelson.p99 <= TARGET * r.rawSingle.p99 ? 'yes' : 'NO',
    },
    { measure: 'of which the create call (API round trip): p50 / p99', Keelson: ms(r.createCall), 'raw Docker': '—', ratio: '', target: '', 'met?': '' },
    { measure: 'pod startup min / max', Keelson: `${fmt(r.keelson.min)} / ${fmt(r.keelson.max)} ms`, 'raw Docker': `${fmt(r.rawPair.min)} / ${fmt(r.rawPair.max)} ms (×2); ${fmt(r.rawSingle.min)} / ${fmt(r.rawSingle.max)} ms (×1)`, ratio: '', target: '', 'met?': '' },
    { measure: 'kubelet RSS at start / holding the pods (peak)', Keelson: `${fmt(r.kubelet.rssStartMB, 1)} / ${fmt(r.kubelet.rssEndMB, 1)} MB (${fmt(r.kubelet.peakMB, 1)})`, 'raw Docker': '—', ratio: '', target: '', 'met?': '' },
  ];
  const columns = ['measure', 'Keelson', 'raw Docker', 'ratio', 'target', 'met?'];
  const c = r.cores;
  const notes = [
    `Keelson: create call start → a store watch on pods (KeelsonClient.watch) sees status.phase Running. Raw: dockerode createContainer + start (×2: a sandbox-like container on the network, then the main one with NetworkMode/IpcMode container:<sandbox>), same image (${IMAGE}) and command, same private bridge network, same engine, interleaved in every iteration; ${o.warmup} untimed warm-up iterations first. Nothing is deleted until the end.`,
    `API server: child process (${apiMode}); kubelet: child process through tsx (its loader thread is ~25 MB of the RSS). One nats-server (JetStream, file storage, R1).`,
    `Cores used during the ${fmt(c.wallSeconds, 1)} s of measurement: kubelet ${fmt(c.kubelet)}, API server ${fmt(c.api)}, nats-server ${fmt(c.nats)}, bench ${fmt(c.bench)}, everything else (dockerd, containerd, other) ${fmt(c.other)}; kubelet CPU ${fmt(r.kubelet.cpuSeconds)} s in all.`,
    `Cleanup: pods deleted through the API (${r.leftovers.pods} still listed after the bound), kubelet stopped, ${r.leftovers.containers} kubelet containers left over and force-removed, raw containers removed, network removed.`,
  ];
  const text = textTable(columns, rows);
  process.stdout.write(`\n${text}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
  mkdirSync(o.out, { recursive: true });
  const base = join(o.out, `startup-${stamp}`);
  writeFileSync(`${base}.json`, JSON.stringify({ date: new Date().toISOString(), options: o, apiserverMode: apiMode, results: r, table: rows, notes }, null, 2) + '\n');
  writeFileSync(`${base}.md`, `# Pod startup benchmark, ${new Date().toISOString()}\n\n${markdownTable(columns, rows)}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
  process.stdout.write(`\nwrote ${relative(process.cwd(), base)}.json and .md\n`);
}

const scenario: Scenario = {
  name: 'startup',
  description: 'pod startup on the docker runtime (create → Running seen by a watch) vs raw Docker create + start',
  usage: USAGE,
  run,
};
export default scenario;
