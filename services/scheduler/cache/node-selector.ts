/**
 * A pod's nodeSelector and node affinity, compiled once into predicates over a
 * node's labels and name, with Kubernetes' semantics: terms are ORed, the
 * requirements of a term ANDed; NotIn and DoesNotExist match a node without the
 * label; Gt/Lt compare integers; an empty term matches nothing; matchFields
 * knows only `metadata.name`.
 */

export type NodeLike = { name: string; labels: Record<string, string> };
export type NodeMatcher = (node: NodeLike) => boolean;
export type WeightedMatcher = { weight: number; matches: NodeMatcher };

type Requirement = { key?: string; operator?: string; values?: string[] };
type Term = { matchExpressions?: Requirement[]; matchFields?: Requirement[] };

function requirement(r: Requirement, read: (n: NodeLike, key: string) => string | undefined): NodeMatcher {
  const key = r.key ?? '';
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return (n) => {
        const v = read(n, key);
        return v !== undefined && values.includes(v);
      };
    case 'NotIn':
      return (n) => {
        const v = read(n, key);
        return v === undefined || !values.includes(v);
      };
    case 'Exists':
      return (n) => read(n, key) !== undefined;
    case 'DoesNotExist':
      return (n) => read(n, key) === undefined;
    case 'Gt':
    case 'Lt': {
      const bound = Number.parseInt(values[0] ?? '', 10);
      const gt = r.operator === 'Gt';
      return (n) => {
        const v = read(n, key);
        if (v === undefined || !/^-?\d+$/.test(v) || Number.isNaN(bound)) return false;
        const x = Number.parseInt(v, 10);
        return gt ? x > bound : x < bound;
      };
    }
    default:
      // The API server rejects other operators; one that slipped through matches nothing.
      return () => false;
  }
}

const byLabel = (n: NodeLike, key: string) => (Object.prototype.hasOwnProperty.call(n.labels, key) ? n.labels[key] : undefined);
const byField = (n: NodeLike, key: string) => (key === 'metadata.name' ? n.name : undefined);

/** A term: all its requirements; a term with none matches no node. */
export function compileTerm(term: Term | undefined): NodeMatcher {
  const parts = [
    ...(term?.matchExpressions ?? []).map((r) => requirement(r, byLabel)),
    ...(term?.matchFields ?? []).map((r) => requirement(r, byField)),
  ];
  if (parts.length === 0) return () => false;
  if (parts.length === 1) return parts[0]!;
  return (n) => parts.every((p) => p(n));
}

/** nodeSelector AND (any of the required terms); undefined when the pod asks for neither. */
export function compileNodeSelector(nodeSelector: Record<string, string> | undefined, required: unknown): NodeMatcher | undefined {
  const parts: NodeMatcher[] = [];
  const wanted = Object.entries(nodeSelector ?? {});
  if (wanted.length) {
    const keys = wanted.map(([k]) => k);
    const values = wanted.map(([, v]) => v);
    parts.push((n) => {
      for (let i = 0; i < keys.length; i++) if (n.labels[keys[i]!] !== values[i]) return false;
      return true;
    });
  }
  const terms = (required as { nodeSelectorTerms?: Term[] } | null | undefined)?.nodeSelectorTerms;
  if (required) {
    const compiled = (terms ?? []).map(compileTerm);
    parts.push((n) => compiled.some((t) => t(n)));
  }
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  return (n) => parts.every((p) => p(n));
}

/** Preferred terms with a weight; an empty preference is a no-op, as Kubernetes documents. */
export function compilePreferredTerms(preferred: unknown): WeightedMatcher[] {
  const list = (Array.isArray(preferred) ? preferred : []) as { weight?: number; preference?: Term }[];
  return list
    .filter((p) => (p.weight ?? 0) > 0 && ((p.preference?.matchExpressions?.length ?? 0) > 0 || (p.preference?.matchFields?.length ?? 0) > 0))
    .map((p) => ({ weight: p.weight!, matches: compileTerm(p.preference) }));
}
