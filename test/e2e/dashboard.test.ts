/**
 * The dashboard in a real browser: `keelson up` (fake runtime: pods run at once),
 * /ui opened in headless Chromium (Debian's, driven by playwright-core). Every
 * statechart is drawn, and a pod's actor is seen moving through its states
 * live as the pod is created and deleted — in its row, its history and the
 * diagram's lit states. A screenshot is kept in test-artifacts/dashboard.png.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { STATECHARTS } from '../../statecharts/index.js';
import { freePort } from '../../services/lib/nats-server/index.js';
import { fetchText } from '../../services/lib/fetch/index.js';
import { up, type Cluster } from '../../services/up/index.js';

const CHROMIUM = '/usr/bin/chromium';
/** As this machine's probe starts it: no sandbox as root, and no calls out to a closed network. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts');
const POD = 'dash-demo';

/** The pod's row as the page shows it now. */
async function podRow(page: Page): Promise<{ state: string; gone: boolean; history: string[] } | undefined> {
  return page.evaluate((actor) => {
    const row = document.querySelector<HTMLElement>(`#chart-pod tr.actor[data-actor="${actor}"]`);
    if (!row) return undefined;
    const details = row.nextElementSibling?.classList.contains('details') ? row.nextElementSibling : undefined;
    return {
      state: row.getAttribute('data-state') ?? '',
      gone: row.classList.contains('gone'),
      history: [...(details?.querySelectorAll('li') ?? [])].map((li) => li.textContent ?? ''),
    };
  }, `pod/default/${POD}`);
}

test('the dashboard draws every statechart and follows a pod actor live', { timeout: 120_000 }, async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: bash scripts/setup.sh installs Debian's chromium`);
  const dir = mkdtempSync(join(tmpdir(), 'keelson-ui-'));
  let cluster: Cluster | undefined;
  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  cluster = await up({ dataDir: dir, natsPort: await freePort(), apiPort: await freePort(), host: '127.0.0.1', runtime: 'fake', nodes: 1, proxyMode: 'userspace', log: () => undefined });
  const api = cluster.apiserver.url;

  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  // The API's certificate is signed by the cluster's own CA, which this browser does not know.
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, ignoreHTTPSErrors: true });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // As `keelson up` prints it: the viewer's token in the fragment, which the page keeps and takes out of the address.
  await page.goto(`${api}/ui#token=${cluster.credentials.viewerToken}`);
  await page.waitForFunction(() => location.hash === '', null, { timeout: 10_000 });

  // Every machine drawn as an SVG diagram, none failed.
  await page.waitForFunction((n) => document.querySelectorAll('.diagram[data-rendered="true"] svg').length === n, STATECHARTS.length, { timeout: 30_000 });
  assert.equal(await page.locator('.diagram .error').count(), 0);
  for (const { name } of STATECHARTS) assert.ok((await page.locator(`#chart-${name} svg g.node`).count()) > 2, `${name} has its states drawn`);
  // The live stream is open and the cluster's actors are listed: the API server, the kubelet, a node, the leaders.
  await page.waitForFunction(() => document.getElementById('status')?.classList.contains('live'), null, { timeout: 10_000 });
  await page.waitForSelector('#chart-apiserver tr.actor[data-state="Serving"]', { timeout: 10_000 });
  await page.waitForSelector('#chart-node tr.actor[data-actor^="node/"]', { timeout: 20_000 });

  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: POD, namespace: 'default' }, spec: { containers: [{ name: 'app', image: 'busybox' }] } };
  const admin = { ca: cluster.credentials.ca, cert: cluster.credentials.admin.cert, key: cluster.credentials.admin.key };
  const created = await fetchText(`${api}/api/v1/namespaces/default/pods`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(pod) }, 10_000, admin);
  assert.equal(created.status, 201, created.text);

  // Seen live: the row shows Running, the diagram lights Running, the history holds the way there.
  const running = await page.waitForFunction(
    (actor) => document.querySelector(`#chart-pod tr.actor[data-actor="${actor}"]`)?.getAttribute('data-state')?.startsWith('Running') === true,
    `pod/default/${POD}`,
    { timeout: 20_000 },
  );
  await running.dispose();
  const atRunning = (await podRow(page))!;
  assert.ok(atRunning.history.some((h) => h.includes('ContainerCreating')), `went through ContainerCreating: ${atRunning.history.join(' | ')}`);
  const lit = await page.$$eval('#chart-pod svg .ks-active', (els) => els.map((e) => e.id));
  assert.ok(lit.some((id) => /state-pod_Running-/.test(id)), `Running is lit in the diagram (lit: ${lit.join(', ')})`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.locator('#chart-pod').screenshot({ path: join(ARTIFACTS, 'dashboard.png') });

  const deleted = await fetchText(`${api}/api/v1/namespaces/default/pods/${POD}`, { method: 'DELETE' }, 10_000, admin);
  assert.equal(deleted.status, 200, deleted.text);
  await page.waitForFunction(
    (actor) => document.querySelector(`#chart-pod tr.actor[data-actor="${actor}"]`)?.classList.contains('gone') === true,
    `pod/default/${POD}`,
    { timeout: 30_000 },
  );
  const after = (await podRow(page))!;
  const path = after.history.join(' | ');
  assert.match(path, /Running/);
  assert.match(path, /Terminating\.Stopping .*→ Terminated /, `went through termination to Terminated: ${path}`);
  t.diagnostic(`pod actor's last transitions, as the page showed them: ${path}`);
  t.diagnostic(`screenshot: ${join(ARTIFACTS, 'dashboard.png')}`);
  assert.deepEqual(pageErrors, [], 'no script error on the page');
});
