/**
 * How deep a request body nests, checked before any parser sees it. JSON.parse
 * copes with any depth, but what walks the result afterwards (defaulting,
 * validation, patches, the codec) recurses; the YAML parser recurses itself.
 * Deep enough recursion ends the process — V8 reports a regular expression it
 * cannot compile that deep as out of memory, which no catch can stop — so a
 * body nested deeper than any Kubernetes object is refused with 400 first.
 * Linear, and it never allocates more than a counter.
 */

/** Kubernetes objects nest some 15 levels; 100 leaves room for anything real. */
export const MAX_NESTING = 100;

/** Why `text` nests too deep, or undefined. Brackets inside JSON strings do not count; in YAML every bracket, indentation and `- ` do. */
export function nestingProblem(text: string, yaml: boolean): string | undefined {
  let depth = 0;
  let deepest = 0;
  let quote = '';
  let lineStart = true;
  let indent = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quote) {
      if (c === 92 /* \ */ && quote === '"') i++;
      else if (text[i] === quote) quote = '';
      continue;
    }
    if (c === 10 /* \n */) {
      lineStart = true;
      indent = 0;
      continue;
    }
    if (yaml && lineStart) {
      // Block nesting: every space of indentation and every `- ` before the content may open a level.
      if (c === 32 || (c === 45 /* - */ && text.charCodeAt(i + 1) === 32)) {
        indent++;
        if (indent > MAX_NESTING * 2) return `the body is indented more than ${MAX_NESTING * 2} levels deep`;
        continue;
      }
      lineStart = false;
    }
    // JSON strings are unambiguous; in YAML a quote may be plain text (`it's`, a comment), so there every bracket counts.
    if (c === 34 /* " */ && !yaml) quote = '"';
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > MAX_NESTING) return `the body nests more than ${MAX_NESTING} levels deep`;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth = Math.max(0, depth - 1);
  }
  return undefined;
}
