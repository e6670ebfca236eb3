/**
 * RFC 6902 JSON Patch (`application/json-patch+json`), as used by `kubectl patch --type json`.
 *
 * Operations: add, remove, replace, move, copy, test. Paths are RFC 6901 JSON pointers
 * (`~1` is `/`, `~0` is `~`); in `add`, the array index `-` appends. The operations are
 * applied in order to a private copy of the document; the first failing operation throws
 * a {@link PatchError} and nothing is returned (the patch is atomic).
 */
import { PatchError } from './errors.js';
import { cloneJson, getOwn, hasOwn, isObject, jsonEqual, setOwn, show, type JsonObject } from './json.js';

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** Parses an RFC 6901 pointer into reference tokens. Throws 400 on bad syntax. */
export function parseJsonPointer(pointer: string, where = 'path'): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) {
    throw new PatchError(`${where} ${show(pointer)} is not a JSON pointer: it must be empty or start with "/"`, 400);
  }
  return pointer
    .slice(1)
    .split('/')
    .map((tok) => {
      if (/~(?![01])/.test(tok)) {
        throw new PatchError(`${where} ${show(pointer)} has a bad escape: "~" must be followed by 0 or 1`, 400);
      }
      return tok.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

function pointerOf(tokens: readonly string[]): string {
  return tokens.map((t) => '/' + t.replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** Array index per RFC 6901: decimal, no leading zeros. Returns -1 when not an index. */
function arrayIndex(tok: string): number {
  return /^(0|[1-9][0-9]*)$/.test(tok) ? Number(tok) : -1;
}

class Applier {
  /** Prefix of error messages: which operation is being applied. */
  label = 'json patch';

  constructor(private root: unknown) {}

  get doc(): unknown {
    return this.root;
  }

  private fail(msg: string, code: 400 | 422 = 422): never {
    throw new PatchError(`${this.label}: ${msg}`, code);
  }

  /** Resolves the value at tokens; throws if it does not exist. */
  get(tokens: readonly string[]): unknown {
    let cur: unknown = this.root;
    for (let i = 0; i < tokens.length; i++) {
      const tok = tokens[i]!;
      const here = pointerOf(tokens.slice(0, i + 1));
      if (Array.isArray(cur)) {
        const idx = arrayIndex(tok);
        if (idx < 0 || idx >= cur.length) this.fail(`path ${here} does not exist (array has ${cur.length} items)`);
        cur = cur[idx];
      } else if (isObject(cur)) {
        if (!hasOwn(cur, tok)) this.fail(`path ${here} does not exist`);
        cur = cur[tok];
      } else {
        this.fail(`path ${here} does not exist: ${pointerOf(tokens.slice(0, i)) || 'the document'} is not an object or array`);
      }
    }
    return cur;
  }

  private parent(tokens: readonly string[]): unknown {
    return this.get(tokens.slice(0, -1));
  }

  add(tokens: readonly string[], value: unknown): void {
    if (tokens.length === 0) {
      this.root = value;
      return;
    }
    const parent = this.parent(tokens);
    const last = tokens[tokens.length - 1]!;
    if (Array.isArray(parent)) {
      if (last === '-') {
        parent.push(value);
        return;
      }
      const idx = arrayIndex(last);
      if (idx < 0) this.fail(`path ${pointerOf(tokens)}: ${show(last)} is not an array index`);
      if (idx > parent.length) {
        this.fail(`path ${pointerOf(tokens)}: index ${idx} is past the end of the array (length ${parent.length})`);
      }
      parent.splice(idx, 0, value);
    } else if (isObject(parent)) {
      setOwn(parent, last, value);
    } else {
      this.fail(`path ${pointerOf(tokens)}: parent ${pointerOf(tokens.slice(0, -1)) || 'document'} is not an object or array`);
    }
  }

  remove(tokens: readonly string[]): unknown {
    if (tokens.length === 0) this.fail('cannot remove the whole document (path "")');
    const parent = this.parent(tokens);
    const last = tokens[tokens.length - 1]!;
    if (Array.isArray(parent)) {
      const idx = arrayIndex(last);
      if (idx < 0 || idx >= parent.length) this.fail(`path ${pointerOf(tokens)} does not exist (array has ${parent.length} items)`);
      return parent.splice(idx, 1)[0];
    }
    if (isObject(parent)) {
      if (!hasOwn(parent, last)) this.fail(`path ${pointerOf(tokens)} does not exist`);
      const old = parent[last];
      delete parent[last];
      return old;
    }
    return this.fail(`path ${pointerOf(tokens)} does not exist`);
  }

  replace(tokens: readonly string[], value: unknown): void {
    if (tokens.length === 0) {
      this.root = value;
      return;
    }
    this.get(tokens); // must exist
    const parent = this.parent(tokens);
    const last = tokens[tokens.length - 1]!;
    if (Array.isArray(parent)) parent[arrayIndex(last)] = value;
    else setOwn(parent as JsonObject, last, value);
  }
}

/**
 * Applies an RFC 6902 patch. `ops` must be an array of operation objects.
 * Returns a new document; `doc` and `ops` are not modified.
 */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) {
    throw new PatchError(`a JSON patch must be a list of operations, got ${show(ops)}`, 400);
  }
  const at = new Applier(cloneJson(doc));
  ops.forEach((raw, i) => {
    if (!isObject(raw)) throw new PatchError(`json patch operation ${i}: must be an object, got ${show(raw)}`, 400);
    const op = getOwn(raw, 'op');
    const label = `json patch operation ${i} (${typeof op === 'string' ? op : '?'})`;
    if (typeof op !== 'string' || !OPS.has(op)) {
      throw new PatchError(`${label}: "op" must be one of add, remove, replace, move, copy, test; got ${show(op)}`, 400);
    }
    const path = getOwn(raw, 'path');
    if (typeof path !== 'string') throw new PatchError(`${label}: "path" must be a string`, 400);
    const tokens = parseJsonPointer(path, `${label}: path`);
    const value = (): unknown => {
      if (!hasOwn(raw, 'value')) throw new PatchError(`${label}: "value" is required`, 400);
      return cloneJson(raw.value);
    };
    const from = (): string[] => {
      const f = getOwn(raw, 'from');
      if (typeof f !== 'string') throw new PatchError(`${label}: "from" must be a string`, 400);
      return parseJsonPointer(f, `${label}: from`);
    };
    at.label = label;
    switch (op) {
      case 'add':
        at.add(tokens, value());
        break;
      case 'remove':
        at.remove(tokens);
        break;
      case 'replace':
        at.replace(tokens, value());
        break;
      case 'move': {
        const src = from();
        const isPrefix = src.length < tokens.length && src.every((t, j) => t === tokens[j]);
        if (isPrefix) {
          throw new PatchError(`${label}: cannot move ${pointerOf(src) || '""'} into its own child ${path}`, 422);
        }
        if (src.length === tokens.length && src.every((t, j) => t === tokens[j])) {
          at.get(src); // no-op, but the location must exist
          break;
        }
        const moved = at.remove(src);
        at.add(tokens, moved);
        break;
      }
      case 'copy':
        at.add(tokens, cloneJson(at.get(from())));
        break;
      case 'test': {
        const expected = value();
        const actual = at.get(tokens);
        if (!jsonEqual(actual, expected)) {
          throw new PatchError(`${label}: test failed: value at ${path || '""'} is ${show(actual)}, expected ${show(expected)}`, 422);
        }
        break;
      }
    }
  });
  return at.doc;
}
