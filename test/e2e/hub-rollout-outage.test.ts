/**
 * Issue 14's site outage during a rollout, with real processes: `wasmfleet server`, a `wasmfleet
 * hub` whose uplink runs through a TCP proxy the test cuts, three agents behind the hub and one
 * connected to the centre. The uplink is cut, then a rollout starts with a 5 s apply timeout and a
 * threshold of one failure. The direct device applies; long past the timeout the site's devices
 * are waiting (behind an offline hub), not failed, and the rollout has neither aborted nor
 * completed. The uplink returns: the site applies and the rollout completes.
 * (test/api/rollout-hubs.test.ts checks the same rules on the store, with time passed in.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCliJson } from '../helpers/cli.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { Fleet, untilLogged } from './fault-helpers.js';
import { TestHub } from './hub-helpers.js';

const HUB = 'north';
const BEHIND_HUB = ['site-1', 'site-2', 'site-3'];
const DIRECT = 'central-1';
const DEVICES = [...BEHIND_HUB, DIRECT];
const APPLY_TIMEOUT_S = 5;

interface DeploymentView {
  status: string;
  statusReason: string | null;
  devices: Array<{ id: string; state: string; reason: string | null }>;
}

test('a site outage during a rollout: its devices wait past the apply timeout without failing or aborting it, and the rollout completes when the site returns', async (t) => {
  const fleet = await Fleet.start(t);
  const proxy = await startTcpProxy(t, { port: fleet.mqttPort });
  const hub = await TestHub.provision(t, fleet, HUB, { upstreamUrls: [proxy.url] });
  for (const id of BEHIND_HUB) await fleet.addDevice(id, {}, ['--hub', HUB]);
  await fleet.addDevice(DIRECT);
  await Promise.all([hub.start(), fleet.publishEma()]);
  for (const id of DEVICES) fleet.startAgent(id);
  for (const id of DEVICES) await untilLogged(fleet.agents.get(id)!.at(-1)!, 'connected', `${id} to connect`, 60_000);
  const hubOnline = async () => (await fleet.api<{ online: boolean }>('GET', `/hubs/${HUB}`)).online;
  await waitFor('the hub online at the centre', async () => ((await hubOnline()) ? true : undefined), 30_000, 250);
  // ema runs everywhere first, so the rollout below replaces a running module.
  await fleet.deployEma(DEVICES);

  proxy.cut();
  await waitFor('the hub seen offline', async () => ((await hubOnline()) ? undefined : true), 30_000, 250);
  const { id } = await runCliJson<{ id: string }>(
    ['deploy', 'ema@1.0.0', ...DEVICES.flatMap((device) => ['--device', device]), '--config', 'every=2', '--input', 'temperature', '--canary', '0', '--soak', '0', '--rate', '0', '--apply-timeout', String(APPLY_TIMEOUT_S), '--failure-threshold', '1', '--no-results'],
    fleet.env,
  );
  const view = () => fleet.api<DeploymentView>('GET', `/deployments/${id}`);
  const stateOf = (deployment: DeploymentView, device: string) => deployment.devices.find((row) => row.id === device);
  await waitFor('the direct device applied', async () => (['applied', 'healthy'].includes(stateOf(await view(), DIRECT)?.state ?? '') ? true : undefined), 60_000, 250);

  // Three apply timeouts with the site out: a device that could be reached would have failed by now.
  await new Promise((resolve) => setTimeout(resolve, 3 * APPLY_TIMEOUT_S * 1000));
  const during = await view();
  assert.equal(during.status, 'running', `neither aborted nor completed while the site is out: ${during.statusReason}`);
  for (const device of BEHIND_HUB) {
    const row = stateOf(during, device)!;
    assert.equal(row.state, 'pending', `${device} waits: ${JSON.stringify(row)}`);
    assert.match(row.reason ?? '', new RegExp(`offline hub '${HUB}'`), `${device} says why it waits`);
  }
  assert.ok(during.devices.every((row) => !['failed', 'timed-out', 'rolled-back'].includes(row.state)), `nothing failed: ${JSON.stringify(during.devices)}`);
  const listed = await fleet.api<{ devices: Array<{ id: string; reachable: string }> }>('GET', `/devices?hub=${HUB}`);
  assert.deepEqual(listed.devices.map((d) => [d.id, d.reachable]).sort(), BEHIND_HUB.map((d) => [d, 'offline-hub']));

  // The site returns: its devices get the new desired state through the hub and the rollout completes.
  proxy.restore();
  await waitFor('the hub back online', async () => ((await hubOnline()) ? true : undefined), 30_000, 250);
  const done = await waitFor('the rollout completed', async () => {
    const deployment = await view();
    assert.notEqual(deployment.status, 'aborted', `aborted after the site returned: ${deployment.statusReason}`);
    return deployment.status === 'completed' ? deployment : undefined;
  }, 90_000, 500);
  assert.deepEqual(done.devices.map((row) => [row.id, row.state]).sort(), DEVICES.map((device) => [device, 'healthy']).sort());
});
