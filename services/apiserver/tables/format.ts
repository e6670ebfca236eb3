/**
 * Shared helpers for printers: tolerant readers for untyped JSON, the column
 * definitions every kind shares, and kubectl's label / selector / container formats.
 */
import type { TableColumnDefinition } from './types.js';

// ---- tolerant readers: stored objects are JSON, a printer never throws on them ----

export function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** A number from a JSON number or a decimal string (protobuf int64 arrives as text). */
export function num(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  return 0;
}

/** Like `num` but keeps "absent" apart from zero. */
export function optNum(v: unknown): number | undefined {
  return v === undefined || v === null ? undefined : num(v);
}

export function arr<T = unknown>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

export function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(rec(v))) if (typeof val === 'string') out[k] = val;
  return out;
}

// ---- column definitions ----

export function column(
  name: string,
  type: TableColumnDefinition['type'],
  description: string,
  priority = 0,
): TableColumnDefinition {
  return { name, type, format: '', description, priority };
}

/** A column only shown with `-o wide`. */
export function wide(
  name: string,
  type: TableColumnDefinition['type'],
  description: string,
): TableColumnDefinition {
  return column(name, type, description, 1);
}

export function nameColumn(priority = 0): TableColumnDefinition {
  return {
    name: 'Name',
    type: 'string',
    format: 'name',
    description: 'Name must be unique within a namespace; the object is addressed by it.',
    priority,
  };
}

export function ageColumn(): TableColumnDefinition {
  return column('Age', 'string', 'Time since the object was created (metadata.creationTimestamp).');
}

// ---- kubectl formats ----

/** `a=1,b=2` with keys sorted, `<none>` when empty (labels.FormatLabels). */
export function formatLabels(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '<none>';
  return keys.map((k) => `${k}=${labels[k]}`).join(',');
}

/**
 * A metav1.LabelSelector in kubectl's string form: requirements sorted by key,
 * `k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`. '' for a selector that selects
 * everything (or nothing, when absent); undefined when it is malformed.
 */
export function labelSelectorString(selector: unknown): string | undefined {
  if (selector === undefined || selector === null) return '';
  const sel = rec(selector);
  const reqs: { key: string; text: string }[] = [];
  for (const [key, value] of Object.entries(strMap(sel.matchLabels))) {
    reqs.push({ key, text: `${key}=${value}` });
  }
  for (const raw of arr(sel.matchExpressions)) {
    const e = rec(raw);
    const key = str(e.key);
    const values = arr(e.values).map(str).sort();
    switch (e.operator) {
      case 'In':
        if (values.length === 0) return undefined;
        reqs.push({ key, text: `${key} in (${values.join(',')})` });
        break;
      case 'NotIn':
        if (values.length === 0) return undefined;
        reqs.push({ key, text: `${key} notin (${values.join(',')})` });
        break;
      case 'Exists':
        reqs.push({ key, text: key });
        break;
      case 'DoesNotExist':
        reqs.push({ key, text: `!${key}` });
        break;
      default:
        return undefined;
    }
  }
  reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return reqs.map((r) => r.text).join(',');
}

/** metav1.FormatLabelSelector: `<none>` for an empty selector, `<error>` for a bad one. */
export function formatLabelSelector(selector: unknown): string {
  const s = labelSelectorString(selector);
  if (s === undefined) return '<error>';
  return s === '' ? '<none>' : s;
}

/** The CONTAINERS and IMAGES cells of workload printers: comma-joined, in order. */
export function containerCells(containers: unknown): { names: string; images: string } {
  const list = arr(containers).map(rec);
  return {
    names: list.map((c) => str(c.name)).join(','),
    images: list.map((c) => str(c.image)).join(','),
  };
}

/** `host:port`, bracketing IPv6 hosts (Go's net.JoinHostPort). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
