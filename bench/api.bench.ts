/**
 * `npm run bench -- api`: the API server against the store it sits on.
 *
 * Starts its own nats-server (one server, JetStream, R1, temp dir) and the API
 * server as a child process (`node bin/keelson.js apiserver`), then measures,
 * each beside the raw JetStream KV operation it is built on (same server, same
 * value sizes, same concurrency, measured in the same run):
 *
 *   create  POST pods, 16 in flight            vs kv.create (CAS), 16 in flight
 *   get     GET one pod, 1 and 16 in flight    vs kv.get
 *   list    GET all pods of 1,000 and 10,000   vs Store.list (consistent snapshot)
 *   watch   100 HTTP watchers, 500 writes/s    vs 100 kv.watch watchers, 500 puts/s
 *   rss     API server RSS at start and holding 10,000 pods (after a forced GC)
 *
 * Prints a table and writes it (JSON + markdown) to bench/results/.
 * Every loop is bounded in count and time; everything started is stopped in a
 * finally block and on SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { KvWatchInclude } from '@nats-io/kv';
import { resourceForKind, type KObject } from '../services/lib/api/resources.js';
import { decodeObject, encodeObject } from '../services/lib/codec/index.js';
import { connectNats } from '../services/lib/nats/index.js';
import { freePort, startNatsServer } from '../services/lib/nats-server/index.js';
import { Store } from '../services/lib/store/index.js';
import { compileProject, startApiServerChild, type ApiServerChild, type ChildMemory } from './lib/apiserver.js';
import { formatSlice, loadLargestProfile, sliceProfile } from './lib/cpuprofile.js';
import { expectOk, HttpClient } from './lib/http.js';
import { closedLoop, openLoop, type LoadResult } from './lib/load.js';
import { benchPod, podName, SENT_ANNOTATION } from './lib/pods.js';
import { Cleanup, cpuSeconds, machineBusySeconds, peakRssMB, rssMB, sleep } from './lib/proc.js';
import { startBenchRun } from './lib/bench-run.js';
import type { Scenario } from './lib/scenario.js';
import { codeVersion, machine } from './lib/source.js';
import { nowMs, opsPerSec, Samples, type Summary } from './lib/stats.js';
import { fmt, markdownTable, ratio, textTable, type Row } from './lib/table.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const pods = resourceForKind('Pod')!;

const NS = 'bench';
const LIST_NS = 'list1k';
const RAW_BUCKET = 'rawbench';
const WARMUP = 200;
const IN_FLIGHT = 16;

const USAGE = `  --pods N          pods created by the timed create (default 3000)
  --total N         pods the server holds for the 10,000 list and the RSS figure (default 10000)
  --list-small N    pods in the namespace of the small list (default 1000)
  --gets N          GETs per get measurement (default 2000)
  --list-runs N     timed runs of each list (default 5)
  --watchers N      watch streams (default 100)
  --rate N          writes per second during the watch (default 500)
  --seconds N       length of the watch measurement (default 10)
  --profile         run the API server with --cpu-prof and print where its time went, per phase
  --parse scan|json how HTTP watchers read an event: a byte search for the send time (default), or JSON.parse of every line
  --compiled        run a temporary tsc build of the CLI instead of bin/keelson.js (which runs through tsx when there is no dist/)
  --ceilings        also measure Fastify alone and Fastify + kv.create (no Keelson code) with the same client: the create ceiling
  --node-arg ARG    an extra node flag for the API server child (repeatable), e.g. --node-arg=--max-semi-space-size=4
  --child-log FILE  copy the API server's stdout/stderr to FILE (e.g. with --node-arg=--trace-gc)
  --quick           a small run (smoke test): 500 pods, 2,000 held, 20 watchers, 3 s
  --out DIR         where results go (default bench/results)`;

type Options = {
  pods: number;
  total: number;
  listSmall: number;
  gets: number;
  listRuns: number;
  watchers: number;
  rate: number;
  seconds: number;
  profile: boolean;
  compiled: boolean;
  ceilings: boolean;
  childLog?: string;
  nodeArgs: string[];
  parse: 'scan' | 'json';
  out: string;
};

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      pods: { type: 'string' },
      total: { type: 'string' },
      'list-small': { type: 'string' },
      gets: { type: 'string' },
      'list-runs': { type: 'string' },
      watchers: { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      profile: { type: 'boolean', default: false },
      compiled: { type: 'boolean', default: false },
      ceilings: { type: 'boolean', default: false },
      'child-log': { type: 'string' },
      'node-arg': { type: 'string', multiple: true },
      parse: { type: 'string', default: 'scan' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const q = values.quick;
  const num = (v: string | undefined, full: number, quick: number, name: string) => {
    const n = v === undefined ? (q ? quick : full) : Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, not ${v}`);
    return n;
  };
  const o: Options = {
    pods: num(values.pods, 3000, 500, 'pods'),
    total: num(values.total, 10_000, 2_000, 'total'),
    listSmall: num(values['list-small'], 1000, 200, 'list-small'),
    gets: num(values.gets, 2000, 300, 'gets'),
    listRuns: num(values['list-runs'], 5, 3, 'list-runs'),
    watchers: num(values.watchers, 100, 20, 'watchers'),
    rate: num(values.rate, 500, 200, 'rate'),
    seconds: num(values.seconds, 10, 3, 'seconds'),
    profile: values.profile ?? false,
    compiled: values.compiled ?? false,
    ceilings: values.ceilings ?? false,
    childLog: values['child-log'],
    nodeArgs: values['node-arg'] ?? [],
    parse: values.parse === 'json' ? 'json' : 'scan',
    out: values.out ?? join(here, 'results'),
  };
  if (values.parse !== 'scan' && values.parse !== 'json') throw new Error(`--parse must be scan or json, not ${values.parse}`);
  if (o.total < o.pods + WARMUP + o.listSmall) throw new Error(`--total must be at least --pods + --list-small + ${WARMUP}`);
  return o;
}

/** CPU seconds of the three processes at one moment. */
type CpuMark = { t: number; api: number; nats: number; bench: number; machine: number };
type Phase = { name: string; startMs: number; endMs: number; cores: { api: number; nats: number; bench: number; other: number } };

type LatencyPair = { keelson: Summary; raw: Summary };

type Results = {
  create: { keelson: LoadSummary; raw: LoadSummary };
  getSequential: LatencyPair;
  getParallel: LatencyPair & { keelsonOps: number; rawOps: number };
  fill: LoadSummary;
  ceilings: { mode: string; load: LoadSummary; serverCpuUsPerOp: number; serverCpuSeconds: number }[];
  list: { size: number; keelson: Summary; raw: Summary; bytes: number }[];
  watch: { keelson: WatchSummary; raw: WatchSummary };
  rss: { startMB: number; heldMB: number; heldPods: number; afterListsMB: number; endMB: number; peakMB: number; startMem: ChildMemory; heldMem: ChildMemory };
  sizes: { requestJsonBytes: number; storedProtoBytes: number; getResponseBytes: number };
};

type LoadSummary = { count: number; errors: number; firstError?: string; opsPerSec: number; latency: Summary; timedOut: boolean };

type WatchSummary = {
  watchers: number;
  /** How a watcher got the send time out of an event. */
  parse: string;
  writes: number;
  writeErrors: number;
  skippedWrites: number;
  writeLatency: Summary;
  expectedEvents: number;
  receivedEvents: number;
  latency: Summary;
  streamsEndedEarly: number;
  firstError?: string;
};

function loadSummary(r: LoadResult): LoadSummary {
  return {
    count: r.done,
    errors: r.errors,
    firstError: r.firstError,
    opsPerSec: opsPerSec(r.done - r.errors, r.elapsedMs),
    latency: r.latencies.summary(),
    timedOut: r.timedOut,
  };
}

async function run(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  // Nothing below may run for ever: a hard limit for the whole scenario.
  const { cleanup, stamp, log, ...bench } = startBenchRun('api', 8 * 60_000);
  const profDir = o.profile ? join(o.out, `api-${stamp}-cpuprofile`) : undefined;

  const phases: Phase[] = [];
  let api: ApiServerChild | undefined;
  let natsPid = 0;
  const mark = (): CpuMark => ({
    t: nowMs(),
    api: api ? cpuSeconds(api.pid) : 0,
    nats: cpuSeconds(natsPid),
    bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    machine: machineBusySeconds(),
  });
  /** Runs one phase, recording its window and the CPU each process used; fails fast if the API server dies. */
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    log(name);
    const a = mark();
    const value = await Promise.race([fn(), api!.died]);
    const b = mark();
    const wall = (b.t - a.t) / 1000;
    phases.push({
      name,
      startMs: a.t,
      endMs: b.t,
      cores: {
        api: (b.api - a.api) / wall,
        nats: (b.nats - a.nats) / wall,
        bench: (b.bench - a.bench) / wall,
        // Everything else on the machine (other test runs...): noise in these figures.
        other: Math.max(0, (b.machine - a.machine - (b.api - a.api) - (b.nats - a.nats) - (b.bench - a.bench)) / wall),
      },
    });
    return value;
  };

  try {
    // --- setup -------------------------------------------------------------
    const dir = bench.tempDir();
    const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    natsPid = nats.pid;
    cleanup.killOnExit(nats.pid);
    cleanup.add('nats-server', () => nats.stop());
    log(`nats-server ${nats.url} (pid ${nats.pid})`);

    const nc = await connectNats(nats.url, 'keelson-bench');
    cleanup.add('bench NATS connection', () => nc.close());
    const raw = await Store.open(nc, { bucket: RAW_BUCKET, replicas: 1 });

    if (profDir) mkdirSync(profDir, { recursive: true });
    const compiledMain = o.compiled ? compileProject(root, join(dir, 'build')) : undefined;
    api = await startApiServerChild({ root, natsUrl: nats.url, cpuProfDir: profDir, compiledMain, nodeArgs: o.nodeArgs, logFile: o.childLog });
    const apiChild = api;
    cleanup.killOnExit(api.pid);
    cleanup.add('API server', () => apiChild.stop());
    log(`API server ${api.url} (pid ${api.pid}, ${modeText(api)})`);
    const keelsonStore = await Store.open(nc, { bucket: 'keelson', bindOnly: true });

    const client = new HttpClient(api.url, IN_FLIGHT);
    cleanup.add('HTTP client', () => client.close());

    const [startMB, startMem] = await phase('rss at start', async () => {
      const m = await api!.gc(1_000);
      return [rssMB(api!.pid), m] as const;
    });

    for (const ns of [NS, LIST_NS]) {
      expectOk(await client.request('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })), `create namespace ${ns}`);
    }
    const podsPath = `/api/v1/namespaces/${NS}/pods`;
    const podBody = (ns: string, name: string) => JSON.stringify(benchPod(ns, name));
    const createVia = (path: string, bodies: string[]) => async (i: number) => {
      expectOk(await client.request('POST', path, bodies[i]), 'create');
    };

    // --- warm-up (not measured): JIT, connections, consumers ----------------
    await phase('warm-up', async () => {
      const bodies = Array.from({ length: WARMUP }, (_, i) => podBody(NS, podName('warm', i)));
      const w = await closedLoop(WARMUP, IN_FLIGHT, 60_000, createVia(podsPath, bodies));
      if (w.errors) throw new Error(`warm-up creates failed: ${w.firstError}`);
      await closedLoop(WARMUP, IN_FLIGHT, 30_000, async (i) => void expectOk(await client.request('GET', `${podsPath}/${podName('warm', i)}`), 'get'));
      const storedWarm = (await keelsonStore.kv.get(`pods.${NS}.${podName('warm', 0)}`))!.value;
      await closedLoop(WARMUP, IN_FLIGHT, 30_000, async (i) => void (await raw.kv.create(`pods.${NS}.${podName('warm', i)}`, storedWarm)));
      await closedLoop(WARMUP, IN_FLIGHT, 30_000, async (i) => void (await raw.kv.get(`pods.${NS}.${podName('warm', i)}`)));
    });

    // --- 1. create -----------------------------------------------------------
    const createBodies = Array.from({ length: o.pods }, (_, i) => podBody(NS, podName(NS, i)));
    const apiCreate = await phase('create: API', () => closedLoop(o.pods, IN_FLIGHT, 90_000, createVia(podsPath, createBodies)));
    if (apiCreate.errors) throw new Error(`API creates failed (${apiCreate.errors}): ${apiCreate.firstError}`);
    // The raw baseline writes the very bytes the API server stored for a pod.
    const stored = (await keelsonStore.kv.get(`pods.${NS}.${podName(NS, 0)}`))!.value;
    const rawCreate = await phase('create: raw kv.create', () =>
      closedLoop(o.pods, IN_FLIGHT, 60_000, async (i) => void (await raw.kv.create(`pods.${NS}.${podName(NS, i)}`, stored))),
    );
    if (rawCreate.errors) throw new Error(`raw creates failed (${rawCreate.errors}): ${rawCreate.firstError}`);
    const sample = await client.request('GET', `${podsPath}/${podName(NS, 0)}`, undefined, { keepBody: true });
    const sizes = {
      requestJsonBytes: Buffer.byteLength(createBodies[0]!),
      storedProtoBytes: stored.length,
      getResponseBytes: sample.bytes,
    };

    // --- optional: what Fastify alone, and Fastify + one kv.create, reach -----
    const ceilings: Results['ceilings'] = [];
    if (o.ceilings) {
      for (const mode of ['echo', 'kv', 'kv-notraces'] as const) {
        const c = await phase(`ceiling: ${mode}`, () => ceilingRun(mode, nats.url, stored.length, createBodies, cleanup));
        // The ceiling server is the server under test of this phase: move its CPU out of "other".
        const p = phases[phases.length - 1]!;
        const cores = c.serverCpuSeconds / ((p.endMs - p.startMs) / 1000);
        p.cores.api = cores;
        p.cores.other = Math.max(0, p.cores.other - cores);
        ceilings.push(c);
      }
    }

    // --- 2. get --------------------------------------------------------------
    const getKey = (i: number) => podName(NS, i % o.pods);
    const apiGet = (i: number) => async () => void expectOk(await client.request('GET', `${podsPath}/${getKey(i)}`), 'get');
    const getSeqApi = await phase('get: API sequential', () => closedLoop(o.gets, 1, 60_000, (i) => apiGet(i)()));
    const getSeqRaw = await phase('get: raw kv.get sequential', () =>
      closedLoop(o.gets, 1, 60_000, async (i) => {
        if (!(await raw.kv.get(`pods.${NS}.${getKey(i)}`))) throw new Error('missing key');
      }),
    );
    const getParApi = await phase('get: API 16 in flight', () => closedLoop(o.gets, IN_FLIGHT, 60_000, (i) => apiGet(i)()));
    const getParRaw = await phase('get: raw kv.get 16 in flight', () =>
      closedLoop(o.gets, IN_FLIGHT, 60_000, async (i) => {
        if (!(await raw.kv.get(`pods.${NS}.${getKey(i)}`))) throw new Error('missing key');
      }),
    );
    for (const [n, r] of [['get sequential', getSeqApi], ['get parallel', getParApi], ['raw get sequential', getSeqRaw], ['raw get parallel', getParRaw]] as const) {
      if (r.errors) throw new Error(`${n} failed (${r.errors}): ${r.firstError}`);
    }

    // --- fill to the total (measured as information, not a figure) -----------
    const fillNames: [string, string][] = [];
    for (let i = 0; i < o.listSmall; i++) fillNames.push([LIST_NS, podName('list', i)]);
    for (let i = o.pods; i < o.total - o.listSmall - WARMUP; i++) fillNames.push([NS, podName(NS, i)]);
    const fillBodies = fillNames.map(([ns, name]) => podBody(ns, name));
    const fill = await phase(`fill to ${o.total} pods`, () =>
      closedLoop(fillBodies.length, IN_FLIGHT, 180_000, async (i) => {
        expectOk(await client.request('POST', `/api/v1/namespaces/${fillNames[i]![0]}/pods`, fillBodies[i]), 'create');
      }),
    );
    if (fill.errors || fill.timedOut) throw new Error(`filling failed (${fill.errors} errors, timed out: ${fill.timedOut}): ${fill.firstError}`);

    // --- 5. RSS holding the pods ---------------------------------------------
    const [heldMB, heldMem] = await phase(`rss holding ${o.total} pods`, async () => {
      await api!.gc(1_000);
      const m = await api!.gc(1_500);
      return [rssMB(api!.pid), m] as const;
    });

    // --- 3. list -------------------------------------------------------------
    const lists: Results['list'] = [];
    for (const [size, path, ns] of [
      [o.listSmall, `/api/v1/namespaces/${LIST_NS}/pods`, LIST_NS],
      [o.total, '/api/v1/pods', undefined],
    ] as const) {
      const result = await phase(`list ${size}: API and raw Store.list`, async () => {
        // One untimed run of each checks the count (and warms both paths up).
        const first = expectOk(await client.request('GET', path, undefined, { keepBody: true, timeoutMs: 60_000 }), `list ${size}`);
        const got = (JSON.parse(first.body!) as { items: unknown[] }).items.length;
        if (got !== size) throw new Error(`list ${path} returned ${got} pods, expected ${size}`);
        const rawFirst = await keelsonStore.list(pods, ns);
        if (rawFirst.items.length !== size) throw new Error(`Store.list returned ${rawFirst.items.length} pods, expected ${size}`);
        const k = new Samples();
        const r = new Samples();
        for (let i = 0; i < o.listRuns; i++) {
          let t = nowMs();
          expectOk(await client.request('GET', path, undefined, { timeoutMs: 60_000 }), `list ${size}`);
          k.push(nowMs() - t);
          t = nowMs();
          await keelsonStore.list(pods, ns);
          r.push(nowMs() - t);
        }
        return { size, keelson: k.summary(), raw: r.summary(), bytes: first.bytes };
      });
      lists.push(result);
    }
    const afterListsMB = await (async () => {
      await api!.gc(1_000);
      return rssMB(api!.pid);
    })();

    // --- 4. watch ------------------------------------------------------------
    const storedObj = decodeObject(pods.protoType, stored);
    const writes = o.rate * o.seconds;
    const writeKey = (i: number) => podName(NS, i % (o.total - o.listSmall - WARMUP));
    const rawWatch = await phase('watch: raw kv.watch', () => rawWatchRun(raw, storedObj, o, writes, writeKey));
    const keelsonWatch = await phase('watch: API', () => httpWatchRun(api!, client, o, writes, writeKey));

    const endMB = rssMB(api.pid);
    const peakMB = peakRssMB(api.pid);

    const results: Results = {
      create: { keelson: loadSummary(apiCreate), raw: loadSummary(rawCreate) },
      getSequential: { keelson: getSeqApi.latencies.summary(), raw: getSeqRaw.latencies.summary() },
      getParallel: {
        keelson: getParApi.latencies.summary(),
        raw: getParRaw.latencies.summary(),
        keelsonOps: opsPerSec(getParApi.done, getParApi.elapsedMs),
        rawOps: opsPerSec(getParRaw.done, getParRaw.elapsedMs),
      },
      fill: loadSummary(fill),
      ceilings,
      list: lists,
      watch: { keelson: keelsonWatch, raw: rawWatch },
      rss: { startMB, heldMB, heldPods: o.total, afterListsMB, endMB, peakMB, startMem, heldMem },
      sizes,
    };

    // --- stop the API server (this also writes its CPU profile) --------------
    await api.stop();
    cleanup.forget(api.pid);
    let profileText = '';
    if (profDir) profileText = profileReport(profDir, phases);
    const memoryNote = o.profile ? estimateCacheMemory(stored, o.total) : '';

    report(o, results, phases, api, stamp, profileText, memoryNote);
  } finally {
    await bench.finish();
  }
}

// --- watch runs ----------------------------------------------------------------
//
// 100 watchers × 500 events/s is 50,000 events/s into this one process, on a
// machine with 2 cores shared with the API server and nats-server. So that the
// figure is the server's and not this client's, both watch kinds read the send
// time straight out of the event bytes (a byte search for the annotation, in
// the JSON line or in the protobuf value) instead of decoding every event;
// `--parse json` makes the HTTP watchers JSON.parse every line instead. The
// first event of every HTTP stream is always fully parsed and checked.

const JSON_NEEDLE = Buffer.from(`"${SENT_ANNOTATION}":"`);
/** The annotation's map entry in protobuf: key bytes, then field 2 (value) tag 0x12. */
const PROTO_NEEDLE = Buffer.concat([Buffer.from(SENT_ANNOTATION), Buffer.from([0x12])]);
const QUOTE = 0x22;
const NEWLINE = 0x0a;

/** The send time in a protobuf-encoded pod, or NaN. */
function sentFromProto(value: Uint8Array): number {
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const i = b.indexOf(PROTO_NEEDLE);
  if (i < 0) return NaN;
  const len = b[i + PROTO_NEEDLE.length]!;
  const from = i + PROTO_NEEDLE.length + 1;
  return Number(b.toString('latin1', from, from + len));
}

/** o.watchers kv.watch watchers on the raw bucket (updates only), fed by kv.put at o.rate/s. */
async function rawWatchRun(raw: Store, storedObj: KObject, o: Options, writes: number, writeKey: (i: number) => string): Promise<WatchSummary> {
  const latencies = new Samples(writes * o.watchers);
  let received = 0;
  let bad = 0;
  const iters: { stop(): void }[] = [];
  const loops: Promise<void>[] = [];
  try {
    for (let w = 0; w < o.watchers; w++) {
      const iter = await raw.kv.watch({ key: `pods.${NS}.>`, include: KvWatchInclude.UpdatesOnly });
      iters.push(iter);
      loops.push(
        (async () => {
          for await (const e of iter) {
            const sent = sentFromProto(e.value);
            const at = nowMs();
            if (Number.isNaN(sent)) {
              bad++;
              continue;
            }
            latencies.push(at - sent);
            received++;
          }
        })(),
      );
    }
    const writer = await openLoop(o.rate, o.seconds, 64, 5_000, async (i) => {
      const obj: KObject = {
        ...storedObj,
        metadata: { ...storedObj.metadata, name: writeKey(i), annotations: { ...storedObj.metadata?.annotations, [SENT_ANNOTATION]: String(nowMs()) } },
      };
      await raw.kv.put(`pods.${NS}.${writeKey(i)}`, encodeObject(pods.protoType, obj));
    });
    const expected = (writer.done - writer.errors) * o.watchers;
    await waitFor(() => received >= expected, 5_000);
    return {
      watchers: o.watchers,
      parse: 'byte search in the protobuf value',
      writes: writer.done,
      writeErrors: writer.errors,
      skippedWrites: writer.skipped,
      writeLatency: writer.latencies.summary(),
      expectedEvents: expected,
      receivedEvents: received,
      latency: latencies.summary(),
      streamsEndedEarly: 0,
      firstError: writer.firstError ?? (bad ? `${bad} events without a send time` : undefined),
    };
  } finally {
    for (const it of iters) it.stop();
    await withTimeoutOrNothing(Promise.all(loops), 5_000);
  }
}

/**
 * o.watchers HTTP watch streams on the bench namespace from the current
 * resourceVersion; a writer PATCHes an annotation holding its send time onto
 * existing pods at o.rate/s (the event's latency includes that write).
 */
async function httpWatchRun(api: ApiServerChild, client: HttpClient, o: Options, writes: number, writeKey: (i: number) => string): Promise<WatchSummary> {
  const list = expectOk(await client.request('GET', `/api/v1/namespaces/${NS}/pods?limit=1`, undefined, { keepBody: true }), 'list');
  const rv = (JSON.parse(list.body!) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
  const url = new URL(api.url);
  const latencies = new Samples(writes * o.watchers);
  let received = 0;
  let endedEarly = 0;
  let firstError: string | undefined;
  let stopping = false;
  const reqs: http.ClientRequest[] = [];
  const baseWatchers = await watcherCount(client);

  const fail = (msg: string) => void (firstError ??= msg);
  /** One event line (bytes [s, e) of buf); `check` parses it fully and cross-checks the fast path. */
  const onLine = (buf: Buffer, s: number, e: number, check: boolean) => {
    let sent = NaN;
    if (o.parse === 'json' || check) {
      const ev = JSON.parse(buf.toString('utf8', s, e)) as { type: string; object?: KObject & { message?: string } };
      if (ev.type === 'ERROR') return fail(`watch ERROR event: ${ev.object?.message}`);
      if (ev.type !== 'MODIFIED') return fail(`unexpected ${ev.type} event`);
      sent = Number(ev.object?.metadata?.annotations?.[SENT_ANNOTATION]);
    }
    if (o.parse === 'scan') {
      const i = buf.indexOf(JSON_NEEDLE, s);
      if (i < 0 || i >= e) {
        if (buf.toString('utf8', s, Math.min(e, s + 40)).includes('"ERROR"')) return fail(`watch ERROR event: ${buf.toString('utf8', s, e).slice(0, 300)}`);
        return fail('an event without a send time');
      }
      const from = i + JSON_NEEDLE.length;
      const scanned = Number(buf.toString('latin1', from, buf.indexOf(QUOTE, from)));
      if (check && scanned !== sent) return fail(`the scanned send time ${scanned} differs from the parsed one ${sent}`);
      sent = scanned;
    }
    const at = nowMs();
    if (Number.isNaN(sent)) return fail('an event without a send time');
    latencies.push(at - sent);
    received++;
  };

  try {
    for (let w = 0; w < o.watchers; w++) {
      const req = http.request(
        { host: url.hostname, port: url.port, method: 'GET', path: `/api/v1/namespaces/${NS}/pods?watch=true&resourceVersion=${rv}`, agent: false, headers: { accept: 'application/json' } },
        (res) => {
          if (res.statusCode !== 200) {
            fail(`watch: HTTP ${res.statusCode}`);
            res.resume();
            return;
          }
          let rest: Buffer | undefined;
          let first = true;
          res.on('data', (chunk: Buffer) => {
            const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
            let start = 0;
            for (let nl = buf.indexOf(NEWLINE); nl >= 0; nl = buf.indexOf(NEWLINE, start)) {
              onLine(buf, start, nl, first);
              first = false;
              start = nl + 1;
            }
            rest = start < buf.length ? buf.subarray(start) : undefined;
          });
          res.on('end', () => {
            if (!stopping) endedEarly++;
          });
          res.on('error', () => undefined);
        },
      );
      req.on('socket', (sock) => sock.setNoDelay(true));
      req.on('error', (e) => {
        if (!stopping) fail(`watch: ${e.message}`);
      });
      req.end();
      reqs.push(req);
    }
    // The server sends the response head with the first event, so "registered"
    // is read from its watcher gauge instead.
    await waitFor(async () => (await watcherCount(client)) >= baseWatchers + o.watchers, 15_000, `${o.watchers} watches registered`);

    const writer = new HttpClient(api.url, 64);
    let writerResult;
    try {
      writerResult = await openLoop(o.rate, o.seconds, 64, 5_000, async (i) => {
        const body = JSON.stringify({ metadata: { annotations: { [SENT_ANNOTATION]: String(nowMs()) } } });
        expectOk(await writer.request('PATCH', `/api/v1/namespaces/${NS}/pods/${writeKey(i)}`, body, { contentType: 'application/merge-patch+json' }), 'patch');
      });
    } finally {
      writer.close();
    }
    const expected = (writerResult.done - writerResult.errors) * o.watchers;
    await waitFor(() => received >= expected, 5_000);
    return {
      watchers: o.watchers,
      parse: o.parse === 'json' ? 'JSON.parse of every line' : 'byte search in the JSON line (first line of each stream JSON.parsed and checked)',
      writes: writerResult.done,
      writeErrors: writerResult.errors,
      skippedWrites: writerResult.skipped,
      writeLatency: writerResult.latencies.summary(),
      expectedEvents: expected,
      receivedEvents: received,
      latency: latencies.summary(),
      streamsEndedEarly: endedEarly,
      firstError: writerResult.firstError ?? firstError,
    };
  } finally {
    stopping = true;
    for (const r of reqs) r.destroy();
  }
}

async function withTimeoutOrNothing(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** The create load against a bare Fastify server (bench/lib/ceiling-server.ts) in a child process. */
async function ceilingRun(mode: 'echo' | 'kv' | 'kv-notraces', natsUrl: string, valueBytes: number, bodies: string[], cleanup: Cleanup) {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'lib', 'ceiling-server.ts'), mode, natsUrl, String(port), String(valueBytes)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanup.killOnExit(child.pid!);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (c: Buffer) => c.toString().includes('serving on') && resolve());
        void exited.then(() => reject(new Error(`ceiling server ${mode} exited: ${stderr}`)));
      }),
      30_000,
      `ceiling server ${mode}`,
    );
    const client = new HttpClient(`http://127.0.0.1:${port}`, IN_FLIGHT);
    try {
      const post = (prefix: string) => async (i: number) => {
        const body = bodies[i]!.replace('"name":"', `"name":"${prefix}`);
        expectOk(await client.request('POST', `/api/v1/namespaces/${NS}/pods`, body), `ceiling ${mode}`);
      };
      await closedLoop(Math.min(WARMUP * 2, bodies.length), IN_FLIGHT, 30_000, post('w'));
      const cpu0 = cpuSeconds(child.pid!);
      const r = await closedLoop(bodies.length, IN_FLIGHT, 60_000, post('m'));
      const cpu = cpuSeconds(child.pid!) - cpu0;
      if (r.errors) throw new Error(`ceiling ${mode}: ${r.errors} errors: ${r.firstError}`);
      // Everything the child used since it started (its tsx start-up included), for the CPU table.
      const total = cpuSeconds(child.pid!);
      return { mode, load: loadSummary(r), serverCpuUsPerOp: (cpu * 1e6) / r.done, serverCpuSeconds: total };
    } finally {
      client.close();
    }
  } finally {
    child.kill('SIGKILL');
    await exited;
    cleanup.forget(child.pid!);
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not ready after ${ms} ms`)), ms))),
  ]);
}

async function watcherCount(client: HttpClient): Promise<number> {
  const m = expectOk(await client.request('GET', '/metrics', undefined, { keepBody: true }), 'metrics');
  return Number(/^keelson_apiserver_watchers (\d+)/m.exec(m.body!)?.[1] ?? NaN);
}

/** Polls `cond` every 20 ms; false after `ms` (or throws when `what` is given). */
async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what?: string): Promise<boolean> {
  const until = nowMs() + ms;
  while (nowMs() < until) {
    if (await cond()) return true;
    await sleep(20);
  }
  if (what) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  return false;
}

// --- diagnostics -------------------------------------------------------------------

function profileReport(profDir: string, phases: Phase[]): string {
  const loaded = loadLargestProfile(profDir);
  if (!loaded) return `(no CPU profile was written to ${profDir})`;
  const parts = [`CPU profile of the API server: ${relative(root, loaded.file)}`];
  for (const p of phases) {
    if (p.name.startsWith('rss') || p.name.startsWith('get: raw') || p.name.includes('raw kv') || p.name.includes('raw kv.watch')) continue;
    parts.push(formatSlice(p.name, sliceProfile(loaded.profile, p.startMs * 1000, p.endMs * 1000, root)));
  }
  return parts.join('\n\n');
}

/** What `count` decoded pods cost on a V8 heap (the watch cache keeps every object decoded). */
function estimateCacheMemory(stored: Uint8Array, count: number): string {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const held: KObject[] = [];
  for (let i = 0; i < count; i++) {
    const o = decodeObject(pods.protoType, stored);
    held.push({ ...o, metadata: { ...o.metadata, resourceVersion: String(i) } });
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  const perPod = (after - before) / count;
  return `${count} decoded pods (as the watch cache holds them) take ${fmt((after - before) / 1048576)} MB of V8 heap in this process: ${fmt(perPod / 1024)} KiB each for a ${stored.length}-byte protobuf value (kept: ${held.length}).`;
}

// --- report --------------------------------------------------------------------------

function report(o: Options, r: Results, phases: Phase[], api: ApiServerChild, stamp: string, profileText: string, memoryNote: string): void {
  const ms = (s: Summary) => `${fmt(s.p50)} / ${fmt(s.p99)} ms`;
  const pair = (k: Summary, b: Summary) => `${ratio(k.p50, b.p50)} / ${ratio(k.p99, b.p99)}`;
  const createRatio = r.create.keelson.opsPerSec / r.create.raw.opsPerSec;
  const createPhase = phases.find((p) => p.name === 'create: API');
  const createCpuUs = createPhase ? (createPhase.cores.api * (createPhase.endMs - createPhase.startMs) * 1000) / r.create.keelson.count : NaN;
  const watchOk = r.watch.keelson.latency.p99 <= 20 && r.watch.keelson.receivedEvents >= r.watch.keelson.expectedEvents;
  const rows: Row[] = [
    {
      scenario: `create, ${IN_FLIGHT} in flight, ${o.pods} pods: ops/s`,
      Keelson: `${fmt(r.create.keelson.opsPerSec, 0)} (${fmt(createCpuUs, 0)} µs CPU/op)`,
      'raw baseline': `${fmt(r.create.raw.opsPerSec, 0)} (kv.create)`,
      ratio: ratio(r.create.keelson.opsPerSec, r.create.raw.opsPerSec),
      target: '≥ 0.5× raw',
      'met?': createRatio >= 0.5 ? 'yes' : 'NO',
    },
    ...r.ceilings.map((c) => ({
      scenario: `  ceiling, no Keelson code: ${c.mode === 'echo' ? 'Fastify echo, no store' : c.mode === 'kv' ? 'Fastify + kv.create' : 'Fastify + kv.create, noAsyncTraces'}`,
      Keelson: `${fmt(c.load.opsPerSec, 0)} (${fmt(c.serverCpuUsPerOp, 0)} µs CPU/op)`,
      'raw baseline': fmt(r.create.raw.opsPerSec, 0),
      ratio: ratio(c.load.opsPerSec, r.create.raw.opsPerSec),
      target: '',
      'met?': '',
    })),
    { scenario: 'create latency p50 / p99', Keelson: ms(r.create.keelson.latency), 'raw baseline': ms(r.create.raw.latency), ratio: pair(r.create.keelson.latency, r.create.raw.latency), target: '', 'met?': '' },
    { scenario: 'get, sequential: p50 / p99', Keelson: ms(r.getSequential.keelson), 'raw baseline': `${ms(r.getSequential.raw)} (kv.get)`, ratio: pair(r.getSequential.keelson, r.getSequential.raw), target: '', 'met?': '' },
    { scenario: `get, ${IN_FLIGHT} in flight: p50 / p99`, Keelson: ms(r.getParallel.keelson), 'raw baseline': ms(r.getParallel.raw), ratio: pair(r.getParallel.keelson, r.getParallel.raw), target: '', 'met?': '' },
    { scenario: `get, ${IN_FLIGHT} in flight: ops/s`, Keelson: fmt(r.getParallel.keelsonOps, 0), 'raw baseline': fmt(r.getParallel.rawOps, 0), ratio: ratio(r.getParallel.keelsonOps, r.getParallel.rawOps), target: '', 'met?': '' },
    ...r.list.map((l) => ({
      scenario: `list ${l.size.toLocaleString('en-US')} pods (JSON, ${fmt(l.bytes / 1048576, 1)} MB): p50 of ${l.keelson.count}`,
      Keelson: `${fmt(l.keelson.p50)} ms`,
      'raw baseline': `${fmt(l.raw.p50)} ms (Store.list)`,
      ratio: ratio(l.keelson.p50, l.raw.p50),
      target: '',
      'met?': '',
    })),
    {
      scenario: `watch, ${o.watchers} watchers, ${o.rate} writes/s: p50 / p99`,
      Keelson: ms(r.watch.keelson.latency),
      'raw baseline': `${ms(r.watch.raw.latency)} (kv.watch)`,
      ratio: pair(r.watch.keelson.latency, r.watch.raw.latency),
      target: 'p99 ≤ 20 ms',
      'met?': watchOk ? 'yes' : 'NO',
    },
    { scenario: 'API server RSS at start', Keelson: `${fmt(r.rss.startMB, 1)} MB`, 'raw baseline': '—', ratio: '', target: '', 'met?': '' },
    {
      scenario: `API server RSS holding ${r.rss.heldPods.toLocaleString('en-US')} pods`,
      Keelson: `${fmt(r.rss.heldMB, 1)} MB`,
      'raw baseline': '—',
      ratio: '',
      target: '≤ 150 MB',
      'met?': r.rss.heldMB <= 150 ? 'yes' : 'NO',
    },
  ];
  const columns = ['scenario', 'Keelson', 'raw baseline', 'ratio', 'target', 'met?'];

  const phaseColumns = ['phase', 'wall s', 'API server cores', 'nats-server cores', 'bench client cores', 'other processes cores'];
  const phaseRows: Row[] = phases.map((p) => ({
    phase: p.name,
    'wall s': fmt((p.endMs - p.startMs) / 1000, 1),
    'API server cores': fmt(p.cores.api, 2),
    'nats-server cores': fmt(p.cores.nats, 2),
    'bench client cores': fmt(p.cores.bench, 2),
    'other processes cores': fmt(p.cores.other, 2),
  }));

  const w = (s: WatchSummary) =>
    `${s.parse}; ${s.receivedEvents.toLocaleString('en-US')} of ${s.expectedEvents.toLocaleString('en-US')} events; ${s.writes} writes (${s.writeErrors} failed, ${s.skippedWrites} skipped), ` +
    `write latency p50/p99 ${fmt(s.writeLatency.p50)} / ${fmt(s.writeLatency.p99)} ms; delivery max ${fmt(s.latency.max)} ms; streams ended early: ${s.streamsEndedEarly}` +
    (s.firstError ? `; first error: ${s.firstError}` : '');
  const notes = [
    `API server: a child process, ${modeText(api)}; --expose-gc for the RSS figures${o.profile ? ', --cpu-prof' : ''}.`,
    `Code measured: ${codeVersion(root)}. Machine: ${machine()}. One nats-server (JetStream, file storage, R1).`,
    `Pod: ${r.sizes.requestJsonBytes} B of JSON sent, ${r.sizes.storedProtoBytes} B of protobuf stored, ${r.sizes.getResponseBytes} B of JSON returned by GET.`,
    `Client: node:http with a keep-alive agent (${IN_FLIGHT} sockets, Nagle off); raw baselines use @nats-io/kv from the same process on one connection.`,
    `Create: ${r.create.keelson.count} API creates, ${r.create.keelson.errors} errors; raw: ${r.create.raw.count}, ${r.create.raw.errors} errors. Fill to ${o.total}: ${fmt(r.fill.opsPerSec, 0)} creates/s, p50/p99 ${fmt(r.fill.latency.p50)} / ${fmt(r.fill.latency.p99)} ms.`,
    `Watch (API): ${w(r.watch.keelson)}.`,
    `Watch (raw): ${w(r.watch.raw)}.`,
    `RSS: ${fmt(r.rss.startMB, 1)} MB at start, ${fmt(r.rss.heldMB, 1)} MB holding ${r.rss.heldPods} pods, ${fmt(r.rss.afterListsMB, 1)} MB after the lists, ${fmt(r.rss.endMB, 1)} MB at the end (no GC), peak ${fmt(r.rss.peakMB, 1)} MB; each after a forced full GC and 1–2 s of quiet unless noted.`,
  ];
  const mem = (m: ChildMemory) => `V8 heap used ${fmt(m.heapUsed, 1)} MB of ${fmt(m.heapTotal, 1)} MB, external ${fmt(m.external, 1)} MB (array buffers ${fmt(m.arrayBuffers, 1)})`;
  notes.push(`Memory after a forced GC (main thread): at start ${mem(r.rss.startMem)}; holding ${r.rss.heldPods} pods ${mem(r.rss.heldMem)}; so ${fmt(((r.rss.heldMem.heapUsed - r.rss.startMem.heapUsed) * 1024) / r.rss.heldPods, 1)} KiB of heap per pod held.`);
  if (memoryNote) notes.push(memoryNote);
  const timed = phases.filter((p) => !p.name.startsWith('rss') && !p.name.startsWith('fill') && !p.name.startsWith('warm'));
  const timedMs = timed.reduce((a, p) => a + p.endMs - p.startMs, 0);
  const otherCores = timed.reduce((a, p) => a + p.cores.other * (p.endMs - p.startMs), 0) / (timedMs || 1);
  notes.push(
    `Other processes on the machine used ${fmt(otherCores, 2)} cores on average during the measured phases` +
      (otherCores > 0.15 ? ' — the figures are disturbed by them; rerun on a quiet machine for clean numbers.' : ' (quiet enough).'),
  );

  const text = [
    '',
    textTable(columns, rows),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    'Where the CPU went, per phase (cores = CPU seconds / wall seconds; the machine has ' + cpus().length + '):',
    textTable(phaseColumns, phaseRows),
    profileText ? `\n${profileText}` : '',
  ].join('\n');
  process.stdout.write(text + '\n');

  mkdirSync(o.out, { recursive: true });
  const base = join(o.out, `api-${stamp}`);
  writeFileSync(`${base}.json`, JSON.stringify({ date: new Date().toISOString(), options: o, apiserverMode: api.mode, results: r, table: rows, phases, notes }, null, 2) + '\n');
  const md = [
    `# API server benchmark, ${new Date().toISOString()}`,
    '',
    markdownTable(columns, rows),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    '## CPU per phase',
    '',
    markdownTable(phaseColumns, phaseRows),
    ...(profileText ? ['', '## Profile', '', '```', profileText, '```'] : []),
    '',
  ].join('\n');
  writeFileSync(`${base}.md`, md);
  process.stdout.write(`\nwrote ${relative(process.cwd(), base)}.json and .md\n`);
}

function modeText(api: ApiServerChild): string {
  if (api.mode === 'compiled') return '`node <temp tsc build>/services/cli/main.js apiserver` (--compiled)';
  if (api.mode === 'dist') return '`node bin/keelson.js apiserver` running the compiled dist/';
  return '`node bin/keelson.js apiserver` running the TypeScript through tsx (there is no dist/ build)';
}

const scenario: Scenario = {
  name: 'api',
  description: 'API server vs raw JetStream KV: create, get, list, watch latency, RSS (~1-2 min)',
  usage: USAGE,
  run,
};
export default scenario;

