/**
 * Prometheus' text exposition format (version 0.0.4) for the few metrics a
 * component exports: gauges and counters with optional labels.
 */

export type MetricType = 'gauge' | 'counter';

export type Sample = { labels?: Record<string, string>; value: number };

export type Metric = { name: string; help: string; type: MetricType; samples: Sample[] };

/** A one-sample metric. */
export function metric(name: string, type: MetricType, help: string, value: number, labels?: Record<string, string>): Metric {
  return { name, help, type, samples: [{ value, ...(labels ? { labels } : {}) }] };
}

export function renderMetrics(metrics: Metric[]): string {
  const out: string[] = [];
  for (const m of metrics) {
    out.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    out.push(`# TYPE ${m.name} ${m.type}`);
    for (const s of m.samples) out.push(`${m.name}${labelText(s.labels)} ${formatValue(s.value)}`);
  }
  return out.join('\n') + '\n';
}

function labelText(labels?: Record<string, string>): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return '';
  const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${entries.map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
