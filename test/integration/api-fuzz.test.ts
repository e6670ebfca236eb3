/**
 * The API server against thousands of generated malformed and hostile inputs,
 * on HTTPS as an admin (so they reach decoding and validation) and over NATS:
 * wrong types, huge strings and arrays, deep nesting, invalid names and paths
 * (traversal, encoded slashes and dots, NUL, invalid UTF-8), invalid JSON, YAML
 * and protobuf, hostile queries. Every request must get an answer in time —
 * a 4xx Kubernetes Status, or a 2xx for an input that happens to be valid,
 * never a 5xx — the server must stay up and ready, and afterwards the store
 * must hold exactly what the successful writes made: nothing partially written.
 *
 * Deterministic: the seed is printed; `KEELSON_FUZZ_SEED=N` replays a run,
 * `KEELSON_FUZZ_CASES=N` changes its size, `KEELSON_FUZZ_LOG=FILE` appends
 * each HTTP case to FILE before it is sent (the last line names a case that
 * took the process down).
 *
 * And the limits: bodies over 3 MiB get 413, one user's 101st open watch 429,
 * and a client that sends its request too slowly is cut off with 408 while
 * others are served.
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import type { ApiServer } from '../../services/apiserver/index.js';
import { newToken } from '../../services/apiserver/authn/index.js';
import { API_SUBJECT, REQUEST_TYPE, RESPONSE_TYPE } from '../../services/lib/api/nats-api.js';
import { RESOURCES } from '../../services/lib/api/resources.js';
import { decodeMessage, encodeMessage } from '../../services/lib/codec/index.js';
import { parseStoreKey } from '../../services/lib/store/index.js';
import { startSecureApiServer, type SecureApiServer } from '../harness/secure-apiserver.js';

const SEED = Number(process.env.KEELSON_FUZZ_SEED ?? Date.now() % 1_000_000);
const CASES = Number(process.env.KEELSON_FUZZ_CASES ?? 3000);
const ANSWER_WITHIN_MS = 10_000;

/** mulberry32: small, fast, and the same sequence for the same seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = any;

class Gen {
  constructor(readonly rand: () => number) {}
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
}

const HOSTILE_NAMES = [
  '', '.', '..', '../etc', '..%2F..%2Fetc%2Fpasswd', '%2e%2e', '%2F', 'a%00b', '%ff%fe', '%', 'x%zz', 'UPPER', '-lead', 'trail-', 'a_b',
  'a'.repeat(254), 'b'.repeat(70_000), 'ü', '%C3%BC', 'a%20b', '*', '%3E', 'system:node', 'x.y.z', 'ok-name', 'web', 'kubernetes', 'default',
];
const HOSTILE_STRINGS = ['', ' ', '\u0000', '../../../../etc/shadow', '/etc/../root', 'x'.repeat(1 << 20), '\ud800', '🙂', '${jndi:ldap://x}', '<script>', "'; DROP TABLE", '%n%n%n', '-1', '1e309', 'NaN'];
const HOSTILE_VALUES = (g: Gen): unknown[] => [
  null, true, false, 0, -1, 1.5, 2 ** 63, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, g.pick(HOSTILE_STRINGS), [], {}, [1, 'a', null], { a: { b: { c: [] } } },
  Array.from({ length: 100_000 }, (_, i) => i), Array.from({ length: 2000 }, () => ({ name: 'x' })), deep(g.int(2) ? 'array' : 'object', 3000),
];
function deep(kind: 'array' | 'object', depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
}

function validObject(kind: string, name: string): Json {
  const c = { name: 'c', image: 'busybox' };
  const tpl = { metadata: { labels: { app: name } }, spec: { containers: [c] } };
  switch (kind) {
    case 'Pod':
      return { apiVersion: 'v1', kind, metadata: { name, labels: { a: 'b' } }, spec: { containers: [{ ...c, ports: [{ containerPort: 80 }], volumeMounts: [{ name: 'h', mountPath: '/h' }] }], volumes: [{ name: 'h', hostPath: { path: '/tmp' } }] } };
    case 'Service':
      return { apiVersion: 'v1', kind, metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }], type: 'NodePort' } };
    case 'Deployment':
    case 'ReplicaSet':
      return { apiVersion: 'apps/v1', kind, metadata: { name }, spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: tpl } };
    case 'ReplicationController':
      return { apiVersion: 'v1', kind, metadata: { name }, spec: { replicas: 1, selector: { app: name }, template: tpl } };
    case 'Role':
    case 'ClusterRole':
      return { apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: { name }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] };
    case 'RoleBinding':
    case 'ClusterRoleBinding':
      return { apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'u' }] };
    default:
      return { apiVersion: 'v1', kind, metadata: { name } };
  }
}

/** Every path to a leaf or a container inside `o`, down to 12 levels (not into a deep value put there before). */
function paths(o: unknown, base: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (base.length > 0) out.push(base);
  if (base.length >= 12) return out;
  if (Array.isArray(o)) o.forEach((v, i) => paths(v, [...base, i], out));
  else if (o && typeof o === 'object') for (const [k, v] of Object.entries(o)) paths(v, [...base, k], out);
  return out;
}

function setAt(o: Json, path: (string | number)[], v: unknown): void {
  let cur = o;
  for (const k of path.slice(0, -1)) cur = cur[k];
  cur[path[path.length - 1]!] = v;
}

type HttpCase = { method: string; path: string; headers: Record<string, string>; body?: Buffer | string; what: string };

function httpCase(g: Gen): HttpCase {
  const r = g.pick(RESOURCES);
  const ns = g.chance(0.8) ? 'fuzz' : g.pick(HOSTILE_NAMES);
  const name = g.chance(0.5) ? `f${g.int(50)}` : g.pick(HOSTILE_NAMES);
  const prefix = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const collection = r.namespaced ? `${prefix}/namespaces/${ns}/${r.plural}` : `${prefix}/${r.plural}`;
  const sub = g.chance(0.2) ? `/${g.pick([...r.subresources, 'status', 'bogus', '..', '%2e%2e', 'exec'])}` : '';
  const shapes = [collection, `${collection}/${name}${sub}`, `${collection}/${name}/${name}/${name}`, `/api/v1/${g.pick(HOSTILE_NAMES)}`, `/apis/${g.pick(HOSTILE_NAMES)}/v1/x`, `/${g.pick(HOSTILE_NAMES)}`, '/api/v1/namespaces/fuzz/pods/../../../../healthz', '/api/v1/namespaces/fuzz/pods/%2e%2e/%2e%2e/nodes'];
  let path = g.pick(shapes);
  const queries = ['watch=true&timeoutSeconds=1', 'labelSelector=' + encodeURIComponent(g.pick(['a in (', '!!', 'a=b,c', 'x'.repeat(5000), 'a notin b'])), 'fieldSelector=' + encodeURIComponent(g.pick(['metadata.name=', 'spec.nodeName==x', 'bogus=1', '=', 'status.phase!=Running'])), 'limit=-1', 'limit=abc', 'continue=garbage', 'resourceVersion=-5', 'resourceVersion=abc', 'timeoutSeconds=-1&watch=1', 'propagationPolicy=Nope', 'dryRun=All', 'fieldValidation=Strict', 'gracePeriodSeconds=-100', 'tailLines=x', 'command=sh', '%zz=1'];
  if (g.chance(0.3)) path += `?${g.pick(queries)}`;
  const method = g.pick(['GET', 'POST', 'POST', 'PUT', 'PUT', 'PATCH', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND']);
  const contentType = g.pick([
    'application/json', 'application/json', 'application/yaml', 'application/merge-patch+json', 'application/strategic-merge-patch+json',
    'application/json-patch+json', 'application/apply-patch+yaml', 'application/vnd.kubernetes.protobuf', 'text/plain', 'application/json; charset=latin1', '',
  ]);
  const body = httpBody(g, r.kind, name, contentType);
  const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
  return { method, path, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body }), what: `${method} ${path.slice(0, 200)} [${contentType}]` };
}

function httpBody(g: Gen, kind: string, name: string, contentType: string): Buffer | string {
  const obj = validObject(kind, name.length < 300 ? name : 'n');
  const mutations = g.int(4);
  for (let i = 0; i < mutations; i++) {
    const ps = paths(obj);
    setAt(obj, g.pick(ps), g.pick(HOSTILE_VALUES(g)));
  }
  switch (g.int(12)) {
    case 0:
      return JSON.stringify(obj).slice(0, g.int(200)); // truncated
    case 1:
      return Buffer.from(Array.from({ length: g.int(4096) }, () => g.int(256))); // random bytes
    case 2:
      return Buffer.concat([Buffer.from('k8s\0'), Buffer.from(Array.from({ length: g.int(512) }, () => g.int(256)))]); // invalid protobuf
    case 3:
      return Buffer.concat([Buffer.from('{"metadata":{"name":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}}')]); // invalid UTF-8
    case 4:
      return 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n'; // YAML aliases
    case 5:
      return JSON.stringify(g.pick([[{ op: 'replace', path: '/spec', value: null }], [{ op: 'move', from: '/a', path: '/b' }], [{ op: 'x' }], { $patch: 'delete' }, { metadata: { $deleteFromPrimitiveList: 1 } }]));
    case 6:
      return '['.repeat(20_000) + ']'.repeat(20_000);
    default:
      return contentType.includes('yaml') && g.chance(0.5) ? `kind: ${kind}\nmetadata: {name: ${JSON.stringify(name)}}\nspec: ${g.pick(['[', '{a: [}', '*x', '!!binary x', '? : :'])}` : JSON.stringify(obj);
  }
}

describe('API fuzz: malformed and hostile input', () => {
  let server: SecureApiServer;
  let api: ApiServer;
  let dispatcher: Agent;
  let watchDispatcher: Agent;
  let caPem: string;
  const token = newToken();

  before(async () => {
    server = await startSecureApiServer({ tokens: [`${token},fuzzer,,"system:masters"`], extra: { bucket: 'fuzz' } });
    api = server.api;
    caPem = server.ca;
    dispatcher = new Agent({ connect: { ca: caPem }, headersTimeout: ANSWER_WITHIN_MS, bodyTimeout: ANSWER_WITHIN_MS, connections: 8 });
    // Open watches each hold a connection of their own.
    watchDispatcher = new Agent({ connect: { ca: caPem }, headersTimeout: ANSWER_WITHIN_MS, bodyTimeout: 0, connections: 200 });
  });
  after(async () => {
    await dispatcher?.close();
    await watchDispatcher?.destroy();
    await server?.stop();
  });

  /** Status and at most 64 KiB of the body; a watch that answered 200 is not read to its end. */
  async function send(c: HttpCase, auth = true): Promise<{ status: number; body: string }> {
    const res = await request(`${api.url}${c.path}`, {
      method: c.method as 'GET',
      headers: { ...c.headers, ...(auth ? { authorization: `Bearer ${token}` } : {}) },
      body: c.body,
      dispatcher,
    });
    if (res.statusCode === 200 && c.path.includes('watch=')) {
      res.body.on('error', () => undefined); // the abort of our own destroy()
      res.body.destroy();
      return { status: 200, body: '' };
    }
    let body = '';
    for await (const chunk of res.body) {
      if (body.length < 16 * 1024 * 1024) body += chunk;
    }
    return { status: res.statusCode, body };
  }

  test(`HTTP: ${CASES} generated requests (seed ${SEED}), each a 4xx Status or a 2xx, none a 5xx, none unanswered; nothing partially written`, { timeout: 600_000 }, async (t) => {
    t.diagnostic(`seed ${SEED} (replay: KEELSON_FUZZ_SEED=${SEED})`);
    assert.equal((await send({ method: 'POST', path: '/api/v1/namespaces', headers: { 'content-type': 'application/json' }, body: '{"metadata":{"name":"fuzz"}}', what: 'namespace' })).status, 201);
    const g = new Gen(prng(SEED));
    const codes = new Map<number, number>();
    const failures: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const c = httpCase(g);
      const auth = g.chance(0.95);
      if (process.env.KEELSON_FUZZ_LOG) appendFileSync(process.env.KEELSON_FUZZ_LOG, `#${i} ${c.what} body ${String(c.body ?? '').slice(0, 300)}\n`);
      let r: { status: number; body: string };
      try {
        r = await send(c, auth);
      } catch (e) {
        failures.push(`#${i} ${c.what}: no answer: ${(e as Error).message}`);
        continue;
      }
      codes.set(r.status, (codes.get(r.status) ?? 0) + 1);
      // Without credentials: 401, or the 400/431 of a request that could not even be parsed.
      if (!auth && ![400, 401, 431].includes(r.status) && !/\/(healthz|livez|readyz|version|ui)\b/.test(c.path)) failures.push(`#${i} ${c.what} without credentials: ${r.status}`);
      if (r.status >= 500) failures.push(`#${i} ${c.what}: ${r.status} ${r.body.slice(0, 300)}`);
      if (r.status >= 400 && c.method !== 'HEAD') {
        let s: Json;
        try {
          s = JSON.parse(r.body);
        } catch {
          failures.push(`#${i} ${c.what}: ${r.status} with a body that is no JSON: ${r.body.slice(0, 200)}`);
          continue;
        }
        if (s.kind !== 'Status' || s.code !== r.status || s.status !== 'Failure') failures.push(`#${i} ${c.what}: ${r.status} with a body that is no Status: ${r.body.slice(0, 200)}`);
        // An error about a huge value is not itself huge: the message shows values cut short.
        if (String(s.message ?? '').length > 64 * 1024) failures.push(`#${i} ${c.what}: ${r.status} with a message of ${String(s.message).length} characters`);
      }
      if (failures.length >= 20) break;
    }
    t.diagnostic(`answers by status: ${JSON.stringify(Object.fromEntries([...codes].sort((a, b) => a[0] - b[0])))}`);
    assert.deepEqual(failures, [], `seed ${SEED}`);
    assert.equal((await send({ method: 'GET', path: '/readyz', headers: {}, what: 'readyz' })).status, 200, 'still ready');
    await assertNothingPartial(t);
  });

  test(`NATS: ${Math.round(CASES / 3)} generated requests, each answered with a protobuf Status, none a 5xx`, { timeout: 300_000 }, async (t) => {
    const nc = await server.nats.connect('fuzz');
    const g = new Gen(prng(SEED + 1));
    const failures: string[] = [];
    const codes = new Map<number, number>();
    for (let i = 0; i < CASES / 3; i++) {
      const r = g.pick(RESOURCES);
      let payload: Uint8Array;
      const what = g.int(4);
      if (what === 0) payload = Uint8Array.from(Array.from({ length: g.int(2048) }, () => g.int(256)));
      else {
        const req: Json = {
          verb: g.pick(['get', 'list', 'create', 'update', 'patch', 'delete', 'bogus', '']),
          group: g.chance(0.9) ? r.group : g.pick(HOSTILE_NAMES),
          version: g.chance(0.9) ? r.version : 'v9',
          resource: g.chance(0.9) ? r.plural : g.pick(HOSTILE_NAMES),
          namespace: g.chance(0.8) ? 'fuzz' : g.pick(HOSTILE_NAMES),
          name: g.chance(0.5) ? `n${g.int(20)}` : g.pick(HOSTILE_NAMES),
          ...(g.chance(0.3) ? { subresource: g.pick(['status', 'scale', 'bogus', '..']) } : {}),
        };
        if (what === 1) req.body = Uint8Array.from(Array.from({ length: g.int(1024) }, () => g.int(256)));
        if (what === 2) req.body = encodeMessage(r.protoType as never, validObject(r.kind, req.name.length < 300 ? req.name : 'n') as never);
        if (what === 3) req.patch = g.pick(['{', 'null', '[{"op":"x"}]', '{"spec":{"replicas":"many"}}']);
        try {
          payload = encodeMessage(REQUEST_TYPE, req);
        } catch {
          continue; // a request the codec itself refuses to build is not one a client can send
        }
      }
      let reply: Json;
      try {
        const m = await nc.request(API_SUBJECT, payload, { timeout: ANSWER_WITHIN_MS });
        reply = decodeMessage(RESPONSE_TYPE, m.data);
      } catch (e) {
        failures.push(`#${i}: no decodable answer: ${(e as Error).message} (request: ${describeRequest(payload)})`);
        continue;
      }
      codes.set(reply.code, (codes.get(reply.code) ?? 0) + 1);
      if (reply.code >= 500) failures.push(`#${i}: ${reply.code} ${JSON.stringify(reply.status).slice(0, 300)}`);
      if (reply.code >= 400 && reply.status?.kind !== 'Status') failures.push(`#${i}: ${reply.code} without a Status`);
      if (failures.length >= 20) break;
    }
    t.diagnostic(`answers by code: ${JSON.stringify(Object.fromEntries([...codes].sort((a, b) => a[0] - b[0])))}`);
    assert.deepEqual(failures, [], `seed ${SEED}`);
    await assertNothingPartial(t);
  });

  function describeRequest(payload: Uint8Array): string {
    try {
      return JSON.stringify(decodeMessage(REQUEST_TYPE, payload), (k, v) => (typeof v === 'string' && v.length > 80 ? `${v.slice(0, 20)}…(${v.length})` : k === 'body' ? `<${v?.length ?? 0} bytes>` : v));
    } catch {
      return `${payload.length} bytes that are no ApiRequest`;
    }
  }

  test('limits: a body over 3 MiB is 413, nesting over 100 levels 400, the 101st watch of one user 429, a slow client 408', { timeout: 120_000 }, async () => {
    const big = await send({ method: 'POST', path: '/api/v1/namespaces/fuzz/pods', headers: { 'content-type': 'application/json' }, body: `{"metadata":{"name":"big"},"x":"${'x'.repeat(3 * 1024 * 1024)}"}`, what: 'big' });
    assert.equal(big.status, 413, big.body.slice(0, 200));
    assert.equal(JSON.parse(big.body).reason, 'RequestEntityTooLarge');
    const deepBody = `{"metadata":{"name":"deep"},"spec":${'['.repeat(101)}${']'.repeat(101)}}`;
    const deepReply = await send({ method: 'POST', path: '/api/v1/namespaces/fuzz/pods', headers: { 'content-type': 'application/json' }, body: deepBody, what: 'deep' });
    assert.equal(deepReply.status, 400);
    assert.match(JSON.parse(deepReply.body).message, /nests more than 100 levels deep/);

    // Watches: 100 held open by one user, the next refused until one ends.
    const held: { destroy(): void }[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        const res = await request(`${api.url}/api/v1/namespaces/fuzz/pods?watch=true`, { headers: { authorization: `Bearer ${token}` }, dispatcher: watchDispatcher });
        assert.equal(res.statusCode, 200);
        res.body.on('error', () => undefined);
        held.push(res.body);
      }
      const refused = await send({ method: 'GET', path: '/api/v1/namespaces/fuzz/pods?watch=true', headers: {}, what: 'watch 101' });
      assert.equal(refused.status, 429, refused.body);
      assert.match(JSON.parse(refused.body).message, /user "fuzzer" already holds 100/);
      held.pop()!.destroy();
      let again = 0;
      for (let tries = 0; tries < 50 && again !== 200; tries++) {
        again = (await send({ method: 'GET', path: '/api/v1/namespaces/fuzz/pods?watch=true&timeoutSeconds=1', headers: {}, what: 'watch again' })).status;
        if (again !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(again, 200, 'a place freed is taken again');
    } finally {
      for (const h of held) h.destroy();
    }

    // Slow clients: 20 connections sending their headers a byte every 2 s; a normal request is served meanwhile, and they are cut off.
    const { connect } = await import('node:tls');
    const port = Number(new URL(api.url).port);
    const slow = await Promise.all(
      Array.from({ length: 20 }, () =>
        new Promise<{ closed: Promise<string> }>((resolve) => {
          const s = connect({ host: '127.0.0.1', port, ca: caPem }, () => {
            s.write('GET /api/v1/namespaces/fuzz/pods HTTP/1.1\r\nHost: x\r\n');
            const drip = setInterval(() => s.writable && s.write('X'), 2_000);
            let answer = '';
            s.on('data', (d) => (answer += d));
            const closed = new Promise<string>((r) => s.on('close', () => (clearInterval(drip), r(answer))));
            s.on('error', () => undefined);
            resolve({ closed });
          });
        }),
      ),
    );
    const t0 = Date.now();
    assert.equal((await send({ method: 'GET', path: '/api/v1/namespaces/fuzz/pods', headers: {}, what: 'while slow' })).status, 200);
    assert.ok(Date.now() - t0 < 2_000, 'served while the slow clients wait');
    const answers = await Promise.all(slow.map((s) => s.closed));
    const after = (Date.now() - t0) / 1000;
    assert.ok(after < 20, `cut off after ${after.toFixed(1)} s (headers are due within 10 s)`);
    for (const a of answers) assert.match(a, /^HTTP\/1\.1 408 .*"reason":"RequestTimeout"/s);
  });

  /** Every key in the store holds a whole object the store can read back. */
  async function assertNothingPartial(t: { diagnostic(s: string): void }): Promise<void> {
    const store = api.registry.store;
    let objects = 0;
    for await (const key of await store.kv.keys()) {
      const k = parseStoreKey(key);
      assert.ok(k, `a key the store cannot read: ${key}`);
      const obj = await store.get(k.resource, k.namespace, k.name);
      assert.ok(obj?.metadata?.name === k.name, `${key} holds its object whole`);
      objects++;
    }
    t.diagnostic(`${objects} objects in the store afterwards, each whole`);
  }
});
