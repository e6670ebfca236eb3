/**
 * The client verbs of `keelson` (get, create, apply, delete, scale), spoken over
 * NATS through the typed client. Tables come from the same printers kubectl sees.
 */
import { NATS_AUTH_HELP, NATS_FLAGS, natsFlagTarget } from './nats-flags.js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import type { KObject } from '../lib/api/resources.js';
import { KeelsonClient, resolveResource } from '../lib/client/index.js';
import { ApiError, isNotFound } from '../lib/errors/index.js';
import { toTable } from '../apiserver/tables/index.js';

export const CLIENT_VERBS = ['get', 'create', 'apply', 'delete', 'scale'];

export const CLIENT_HELP = `  get RESOURCE [NAME] [-n NS | -A] [-l SELECTOR] [-o wide|yaml|json|name]
  create -f FILE     Create the objects in a YAML/JSON file (- for stdin)
  apply -f FILE      Create, or update with a server-side apply patch
  delete RESOURCE NAME [-n NS] | delete -f FILE
  scale RESOURCE NAME --replicas N [-n NS]
      --nats URL[,URL]   NATS servers (default $KEELSON_NATS or nats://127.0.0.1:4222)
${NATS_AUTH_HELP}`;

const OPTIONS = {
  ...NATS_FLAGS,
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A', default: false },
  selector: { type: 'string', short: 'l' },
  output: { type: 'string', short: 'o' },
  filename: { type: 'string', short: 'f' },
  replicas: { type: 'string' },
} as const;

function readObjects(file: string): KObject[] {
  const text = readFileSync(file === '-' ? 0 : file, 'utf8');
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as KObject | null)
    .filter((o): o is KObject => !!o)
    .flatMap((o) => (o.kind === 'List' ? ((o as { items?: KObject[] }).items ?? []) : [o]));
}

function ref(o: KObject): string {
  return `${resolveResource(o.kind ?? '').singular}/${o.metadata?.name}`;
}

function printTable(resource: ReturnType<typeof resolveResource>, items: KObject[], wide: boolean, withNs: boolean): string {
  const table = toTable(resource, items, { resourceVersion: '' });
  const cols = table.columnDefinitions.map((c, i) => ({ ...c, i })).filter((c) => wide || c.priority === 0);
  const header = [...(withNs ? ['NAMESPACE'] : []), ...cols.map((c) => c.name.toUpperCase())];
  const rows = table.rows.map((r, n) => [...(withNs ? [items[n]!.metadata?.namespace ?? ''] : []), ...cols.map((c) => String(r.cells[c.i] ?? ''))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd()).join('\n') + '\n';
}

export async function runClientVerb(verb: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  const client = await KeelsonClient.connect(natsFlagTarget(values), `keelson-cli-${verb}`);
  const out = (s: string) => process.stdout.write(s);
  try {
    switch (verb) {
      case 'get': {
        const [what, name] = positionals;
        if (!what) throw new ApiError('BadRequest', 'get needs a resource type, e.g. `keelson get pods`');
        const r = resolveResource(what);
        const ns = values['all-namespaces'] ? '' : (values.namespace ?? 'default');
        const items = name ? [await client.get(r, ns, name)] : (await client.list(r, ns, { labelSelector: values.selector })).items;
        const o = values.output;
        if (o === 'json') out(JSON.stringify(name ? items[0] : { kind: 'List', apiVersion: 'v1', items }, null, 2) + '\n');
        else if (o === 'yaml') out(stringify(name ? items[0] : { kind: 'List', apiVersion: 'v1', items }));
        else if (o === 'name') out(items.map((i) => `${r.singular}/${i.metadata?.name}\n`).join(''));
        else if (!items.length) process.stderr.write(`No resources found${ns ? ` in ${ns} namespace` : ''}.\n`);
        else out(printTable(r, items, o === 'wide', values['all-namespaces'] && r.namespaced));
        return 0;
      }
      case 'create':
      case 'apply': {
        if (!values.filename) throw new ApiError('BadRequest', `${verb} needs -f FILE`);
        for (const obj of readObjects(values.filename)) {
          if (values.namespace && !obj.metadata?.namespace) obj.metadata = { ...obj.metadata, namespace: values.namespace };
          if (verb === 'create') {
            out(`${ref(await client.create(obj))} created\n`);
            continue;
          }
          try {
            await client.get(obj.kind ?? '', obj.metadata?.namespace, obj.metadata?.name ?? '');
            await client.patch(obj.kind ?? '', obj.metadata?.namespace, obj.metadata!.name!, 'apply', obj);
            out(`${ref(obj)} configured\n`);
          } catch (e) {
            if (!isNotFound(e)) throw e;
            out(`${ref(await client.create(obj))} created\n`);
          }
        }
        return 0;
      }
      case 'delete': {
        const targets: { kind: string; ns?: string; name: string }[] = values.filename
          ? readObjects(values.filename).map((o) => ({ kind: o.kind ?? '', ns: o.metadata?.namespace ?? values.namespace, name: o.metadata?.name ?? '' }))
          : positionals.slice(1).map((name) => ({ kind: positionals[0] ?? '', ns: values.namespace, name }));
        if (!targets.length) throw new ApiError('BadRequest', 'delete needs RESOURCE NAME or -f FILE');
        for (const t of targets) {
          await client.delete(t.kind, t.ns ?? 'default', t.name);
          out(`${resolveResource(t.kind).singular} "${t.name}" deleted\n`);
        }
        return 0;
      }
      case 'scale': {
        const [what, name] = positionals;
        const replicas = Number(values.replicas);
        if (!what || !name || !Number.isInteger(replicas) || replicas < 0) {
          throw new ApiError('BadRequest', 'scale needs RESOURCE NAME --replicas N (N ≥ 0)');
        }
        await client.scale(what, values.namespace ?? 'default', name, replicas);
        out(`${resolveResource(what).singular}/${name} scaled\n`);
        return 0;
      }
    }
    throw new ApiError('BadRequest', `unknown verb ${verb}`);
  } catch (e) {
    process.stderr.write(`Error from server (${e instanceof ApiError ? e.reason : 'Error'}): ${(e as Error).message}\n`);
    return 1;
  } finally {
    await client.close();
  }
}
