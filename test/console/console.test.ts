/**
 * The operator console in a real headless Chromium against a real platform (broker, API, SQLite
 * in a temp dir) and six real agents with simulated sensors: sign in with a token; the Fleet page
 * shows the provisioned fleet and filters it; a device's chart grows as its results arrive; a
 * deployment started from the CLI shows its waves progressing, and is paused and resumed from the
 * page; a viewer token is offered no controls and no Admin page; a device behind a hub whose
 * module is quarantined (its reported state published over MQTT with its own credentials, as its
 * agent would) shows in the hub column, filter and counts, and its quarantine badge and reason on
 * the Fleet and Device pages. Screenshots of every page go to
 * .tmp/console/ (test/helpers/browser.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { apiClient, poll, provisionDevice, publishProbes, startAgentProcess, untilFinished, type FleetDevice } from '../e2e/rollout-fleet.js';
import { artifactsDir, browserUnavailable, ensureConsoleBuilt, launchBrowser } from '../helpers/browser.js';
import { runCliJson } from '../helpers/cli.js';
import mqtt from 'mqtt';
import { encodePayload, topics, type ReportedState } from '../../protocol/index.js';
import { startTestPlatform } from '../helpers/platform.js';

const DEVICES = 6;
const WAIT = { timeout: 60_000 };

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url + '/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('who').waitFor(WAIT);
}

const text = async (page: Page, testId: string): Promise<string> => (await page.getByTestId(testId).locator('.stat-value').textContent()) ?? '';

test('the console: sign in, fleet, live device chart, a CLI rollout paused and resumed on the page, a viewer offered no controls', { skip: browserUnavailable(), timeout: 420_000 }, async (t) => {
  ensureConsoleBuilt();
  const shots = artifactsDir();
  const { platform, dir, env } = await startTestPlatform(t, 'console');
  const url = platform.apiUrl;
  const api = apiClient(url, env.WASMFLEET_TOKEN!);
  await publishProbes(api, platform.dataDir.path);
  const devices: FleetDevice[] = [];
  for (let i = 0; i < DEVICES; i += 1) devices.push(await provisionDevice(api, dir, `cn-${String(i).padStart(2, '0')}`, { fleet: 'console', line: String(i % 2) }));
  await startAgentProcess(t, dir, 'console-fleet', devices);
  // probe@1.0.0 everywhere first, so there are results to chart and a version to roll from.
  const baseline = await api.call('POST', '/api/v1/deployments', { module: 'probe', version: '1.0.0', target: { tags: { fleet: 'console' } }, strategy: { canary: 0, soakSeconds: 0, ratePerMinute: 0 } });
  assert.equal(baseline.status, 201, JSON.stringify(baseline.body));
  assert.equal((await untilFinished(api, baseline.body.id)).status, 'completed');

  const browser = await launchBrowser(t);
  const admin = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const pageErrors: string[] = [];
  admin.on('pageerror', (error) => pageErrors.push(error.message));

  await t.test('a wrong token is refused with the reason; a good one signs in and is kept out of the URL', async () => {
    await admin.goto(url + '/');
    await admin.getByLabel('API token').fill('wft_0000000000000000_nope');
    await admin.getByRole('button', { name: 'Sign in' }).click();
    await admin.getByRole('alert').waitFor(WAIT);
    assert.match((await admin.getByRole('alert').textContent()) ?? '', /token/);
    await admin.screenshot({ path: join(shots, 'sign-in.png') });
    await signIn(admin, url, env.WASMFLEET_TOKEN!);
    assert.ok(!admin.url().includes(env.WASMFLEET_TOKEN!));
    assert.equal(await admin.evaluate(() => sessionStorage.length), 1);
    assert.match((await admin.getByTestId('who').textContent()) ?? '', /admin/);
  });

  await t.test('Fleet shows the provisioned fleet online, by profile and tag, and filters the table on the server side', async () => {
    await admin.goto(url + '/#/fleet');
    await poll('six devices online on the page', async () => (await text(admin, 'count-online')) === String(DEVICES), 60_000);
    assert.equal(await text(admin, 'count-total'), String(DEVICES));
    assert.equal(await text(admin, 'count-faulted'), '0');
    await admin.locator('[data-testid=devices-table] tr[data-device]').first().waitFor(WAIT);
    assert.equal(await admin.locator('[data-testid=devices-table] tr[data-device]').count(), DEVICES);
    assert.equal(await admin.getByTestId('devices-table').getAttribute('data-server-side'), 'true', 'paged by GET /api/v1/devices');
    await admin.screenshot({ path: join(shots, 'fleet.png'), fullPage: true });
    await admin.getByTestId('device-search').fill('cn-03');
    await poll('the table filtered to cn-03', async () => (await admin.locator('[data-testid=devices-table] tr[data-device]').count()) === 1, 10_000);
    assert.equal(await admin.locator('[data-testid=devices-table] tr[data-device]').getAttribute('data-device'), 'cn-03');
    await admin.getByTestId('device-search').fill('');
  });

  await t.test('a device behind a hub with a quarantined module: hub column, filter and counts; quarantine count, filter and badges', async () => {
    assert.equal((await api.call('POST', '/api/v1/hubs', { id: 'north', selector: { fleet: 'north-only' }, urls: ['mqtt://hub-north.local:1883'] })).status, 201);
    // Tagged apart from fleet=console, so no rollout of this test targets it.
    const created = await api.call('POST', '/api/v1/devices', { id: 'cn-q', profile: 'sim-x86-64', tags: { fleet: 'north-only' }, hub: 'north' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const reason = 'module spin@1.0.0 quarantined after 5 faults in a row; last: timeout: cpu budget';
    const state: ReportedState = {
      v: 1, deviceId: 'cn-q', revision: 0, at: new Date().toISOString(), agent: { version: '0.1.0', profile: 'sim-x86-64', arch: 'x64' },
      modules: [{ name: 'spin', version: '1.0.0', sha256: 'a'.repeat(64), deploymentId: 'dep-q', state: 'failed', reason, faults: 5, batches: 0, quarantined: true }],
      errors: [],
    };
    const { password, url: mqttUrl } = created.body.mqtt as { password: string; url: string };
    const device = await mqtt.connectAsync(mqttUrl, { username: 'cn-q', password, clientId: 'cn-q', reconnectPeriod: 0, protocolVersion: 4 });
    await device.publishAsync(topics.device('cn-q', 'reported'), encodePayload('reported', state), { qos: 1, retain: true });
    await device.endAsync();

    await admin.goto(url + '/#/fleet');
    await poll('one quarantined device counted', async () => (await admin.getByTestId('count-quarantined').count()) === 1 && (await text(admin, 'count-quarantined')) === '1', 60_000);
    assert.equal(await text(admin, 'count-total'), String(DEVICES + 1));
    const north = admin.locator('[data-testid=counts-by-hub] tr[data-hub=north]');
    await north.waitFor(WAIT);
    assert.deepEqual((await north.locator('td').allTextContents()).map((s) => s.trim()), ['north', '1', '0', '1', '0', '1', '1']);
    const rows = admin.locator('[data-testid=devices-table] tr[data-device]');
    await poll('all devices listed', async () => (await rows.count()) === DEVICES + 1, 60_000);
    assert.equal(await admin.locator('tr[data-device=cn-q] td[data-col=hub]').textContent(), 'north');
    assert.equal(await admin.locator('tr[data-device=cn-00] td[data-col=hub]').textContent(), 'direct');
    // The table polls on its own 5 s cycle, apart from the counts: its next poll brings the flag.
    await poll('the quarantine badge in the devices table', async () => /quarantined/.test((await admin.locator('tr[data-device=cn-q]').textContent()) ?? ''), 60_000);
    await admin.getByTestId('hub-filter').selectOption('north');
    await poll('the table filtered to the hub', async () => (await rows.count()) === 1 && (await rows.first().getAttribute('data-device')) === 'cn-q', 60_000);
    await admin.screenshot({ path: join(shots, 'fleet-hub-quarantine.png'), fullPage: true });
    await admin.getByTestId('hub-filter').selectOption('');
    await admin.getByLabel('status').selectOption('quarantined');
    await poll('the table filtered to quarantined devices', async () => (await rows.count()) === 1 && (await rows.first().getAttribute('data-device')) === 'cn-q', 60_000);
    await admin.getByLabel('status').selectOption('');

    await admin.locator('[data-testid=devices-table] a', { hasText: 'cn-q' }).click();
    const badge = admin.getByTestId('quarantine-badge');
    await badge.waitFor(WAIT);
    assert.equal(await badge.getAttribute('title'), reason);
    assert.match((await admin.locator('[data-testid=device-modules] tr[data-module=spin]').textContent()) ?? '', /quarantined after 5 faults/);
    assert.equal(await admin.getByTestId('device-hub').textContent(), 'north');
    await admin.screenshot({ path: join(shots, 'device-quarantined.png'), fullPage: true });
  });

  await t.test("a device's page shows its modules and its chart grows as results arrive", async () => {
    await admin.goto(url + '/#/fleet');
    await admin.locator('[data-testid=devices-table] a', { hasText: 'cn-01' }).click();
    await admin.getByTestId('device-modules').waitFor(WAIT);
    await poll('probe running on the page', async () => /probe[\s\S]*1\.0\.0[\s\S]*running/.test((await admin.getByTestId('device-modules').textContent()) ?? ''), 30_000);
    const chart = admin.locator('[data-testid=device-charts] .chart').first();
    await chart.waitFor(WAIT);
    await admin.locator('[data-testid=device-charts] canvas').first().waitFor(WAIT);
    const first = Number(await chart.getAttribute('data-points'));
    assert.ok(first > 0);
    // No reload: the page itself fetches what is new.
    await poll('more points on the chart', async () => Number(await chart.getAttribute('data-points')) > first, 30_000);
    const second = Number(await chart.getAttribute('data-points'));
    await poll('still more points', async () => Number(await chart.getAttribute('data-points')) > second, 30_000);
    await admin.screenshot({ path: join(shots, 'device.png'), fullPage: true });
  });

  let deploymentId = '';
  await t.test('a deployment started from the CLI shows its waves progress; pause and resume from the page', async () => {
    const created = await runCliJson<{ id: string; waves: Array<{ size: number }> }>(
      ['deploy', 'probe@2.0.0', '--tag', 'fleet=console', '--canary', '1', '--wave-growth', '2', '--soak', '4', '--rate', '0'],
      env,
    );
    deploymentId = created.id;
    assert.deepEqual(created.waves.map((w) => w.size), [1, 2, 3]);
    await admin.goto(`${url}/#/deployments`);
    await admin.locator(`[data-deployment="${deploymentId}"]`).waitFor(WAIT);
    await admin.locator(`[data-deployment="${deploymentId}"] a`).click();
    const wave = (index: number) => admin.locator(`[data-testid=waves] tr[data-wave="${index}"]`);
    await wave(0).waitFor(WAIT);
    // The canary settles and wave 1 starts, seen on the page as it happens.
    await poll('the canary done on the page', async () => (await wave(0).getAttribute('data-state')) === 'done', 90_000);
    await poll('wave 1 started on the page', async () => (await wave(1).getAttribute('data-state')) !== 'waiting', 90_000);
    await admin.screenshot({ path: join(shots, 'deployment-progress.png'), fullPage: true });
    await admin.locator('[data-action=pause]').click();
    await poll('paused on the page', async () => /paused/.test((await admin.getByTestId('deployment-status').textContent()) ?? ''), 30_000);
    assert.equal((await api.call('GET', `/api/v1/deployments/${deploymentId}`)).body.status, 'paused');
    assert.equal(await wave(2).getAttribute('data-state'), 'waiting', 'a paused rollout sends no new wave');
    await admin.locator('[data-action=resume]').waitFor(WAIT);
    await admin.screenshot({ path: join(shots, 'deployment-paused.png'), fullPage: true });
    await admin.locator('[data-action=resume]').click();
    await poll('completed on the page', async () => /completed/.test((await admin.getByTestId('deployment-status').textContent()) ?? ''), 120_000);
    for (const index of [0, 1, 2]) assert.equal(await wave(index).getAttribute('data-state'), 'done');
    await admin.screenshot({ path: join(shots, 'deployment-completed.png'), fullPage: true });
    const audit = await api.call('GET', '/api/v1/audit?action=deployment.control');
    assert.deepEqual(audit.body.entries.map((e: { path: string }) => e.path.split('/').pop()).sort(), ['pause', 'resume']);
  });

  await t.test('Modules, Analytics and Admin pages render for an admin', async () => {
    await admin.goto(`${url}/#/modules`);
    await admin.getByTestId('modules-table').waitFor(WAIT);
    assert.match((await admin.getByTestId('modules-table').textContent()) ?? '', /probe[\s\S]*2\.0\.0[\s\S]*6 devices/);
    await admin.getByRole('button', { name: 'manifest' }).first().click();
    await admin.getByTestId('module-detail').waitFor(WAIT);
    assert.match((await admin.getByTestId('module-detail').textContent()) ?? '', /key [0-9a-f]{8}/);
    await admin.screenshot({ path: join(shots, 'modules.png'), fullPage: true });
    await admin.goto(`${url}/#/admin`);
    await admin.getByTestId('tokens-table').locator('tr').nth(1).waitFor(WAIT);
    await admin.getByTestId('audit-table').locator('tbody tr').first().waitFor(WAIT);
    await admin.screenshot({ path: join(shots, 'admin.png'), fullPage: true });
    await admin.goto(`${url}/#/analytics`);
    await admin.locator('h1', { hasText: 'Analytics' }).waitFor(WAIT);
    // avg(probe.count) over the fleet from GET /api/v1/results/aggregate, charted.
    await admin.locator('.chart canvas').first().waitFor(WAIT);
    await admin.screenshot({ path: join(shots, 'analytics.png'), fullPage: true });
  });

  await t.test('a viewer token is offered no pause button and no Admin page', async () => {
    const viewerToken = (await api.call('POST', '/api/v1/tokens', { name: 'console-viewer', role: 'viewer' })).body.token as string;
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const viewer = await context.newPage();
    await signIn(viewer, url, viewerToken);
    assert.match((await viewer.getByTestId('who').textContent()) ?? '', /viewer/);
    assert.equal(await viewer.locator('nav a', { hasText: 'Admin' }).count(), 0);
    await viewer.goto(`${url}/#/deployments/${deploymentId}`);
    await viewer.getByTestId('waves').waitFor(WAIT);
    assert.equal(await viewer.getByTestId('deployment-controls').count(), 0);
    assert.equal(await viewer.locator('button[data-action]').count(), 0);
    // The operator's view of the same page does offer them (here: rollback, the deployment being complete).
    await admin.goto(`${url}/#/deployments/${deploymentId}`);
    await admin.locator('[data-action=rollback]').waitFor(WAIT);
    await viewer.screenshot({ path: join(shots, 'deployment-viewer.png'), fullPage: true });
    await context.close();
  });

  assert.deepEqual(pageErrors, [], 'no script errors on any page');
});
