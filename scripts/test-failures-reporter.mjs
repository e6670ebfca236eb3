// A second reporter for Node's test runner: silent while the tests run, then, at
// the very end of the output, every failed (or cancelled) test once more with its
// file and error — so the last screen of a long CI log says what broke.
// TODO tests are left out: they are reported, but expected to fail.
const MAX_ERROR_LINES = 40;

function describe(error) {
  if (!error) return '';
  // The runner wraps what the test threw in ERR_TEST_FAILURE; the cause is the story.
  const inner = error.code === 'ERR_TEST_FAILURE' && error.cause ? error.cause : error;
  const text = inner instanceof Error ? inner.stack || inner.message : String(inner?.message ?? inner);
  // Node's own frames say nothing about the test.
  const lines = text.split('\n').filter((l) => !/\(node:(internal|async_hooks)/.test(l));
  return lines.length > MAX_ERROR_LINES ? [...lines.slice(0, MAX_ERROR_LINES), `… ${lines.length - MAX_ERROR_LINES} more lines`].join('\n') : lines.join('\n');
}

export default async function* failures(source) {
  const failed = [];
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, file, todo, details } = event.data;
    if (todo !== undefined && todo !== false) continue;
    const error = details?.error;
    // A parent fails because a subtest did; the subtest is already listed.
    if (error?.failureType === 'subtestsFailed') continue;
    failed.push({ name, file, error });
  }
  if (failed.length === 0) return;
  yield `\n# ${failed.length} failed test(s):\n`;
  for (const f of failed) {
    yield `# ✗ ${f.name}${f.file ? `  (${f.file.replace(process.cwd() + '/', '')})` : ''}\n`;
    const text = describe(f.error);
    if (text) yield text.split('\n').map((l) => `#     ${l}`).join('\n') + '\n';
  }
}
