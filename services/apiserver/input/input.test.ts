import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_NESTING, nestingProblem, parseText } from './index.js';

test('nesting: brackets outside strings count, inside strings not; YAML indentation and "- " count', () => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  assert.equal(nestingProblem(deep(MAX_NESTING), false), undefined);
  assert.match(nestingProblem(deep(MAX_NESTING + 1), false)!, /more than 100 levels/);
  assert.equal(nestingProblem(`{"a":"${'['.repeat(5000)}","b":"\\"[[["}`, false), undefined, 'brackets in strings');
  assert.match(nestingProblem(`a: it's\nb: ${'['.repeat(500)}\n`, true)!, /more than 100/, "a quote in a plain YAML scalar hides nothing");
  assert.match(nestingProblem(`# don't\nb: ${'['.repeat(500)}\n`, true)!, /more than 100/);
  assert.match(nestingProblem(`${'- '.repeat(300)}x\n`, true)!, /indented more than 200/);
  assert.match(nestingProblem(`a:\n${' '.repeat(201)}b: 1\n`, true)!, /indented more than 200/);
  const manifest = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: c\n    image: busybox\n    ports:\n    - containerPort: 80\n';
  assert.equal(nestingProblem(manifest, true), undefined);
});

test('parseText: JSON and YAML, every problem a 400 that says what', () => {
  assert.deepEqual(parseText('{"a":[1]}', 'json'), { a: [1] });
  assert.deepEqual(parseText('a: [1]', 'yaml'), { a: [1] });
  assert.throws(() => parseText('{', 'json'), (e: { code?: number; message: string }) => e.code === 400 && /request body is not valid JSON/.test(e.message));
  assert.throws(() => parseText('a: [', 'yaml', 'the patch'), (e: { code?: number; message: string }) => e.code === 400 && /^the patch is not valid YAML/.test(e.message));
  assert.throws(() => parseText('['.repeat(20_000), 'yaml'), (e: { code?: number; message: string }) => e.code === 400 && /nests more than/.test(e.message));
});
