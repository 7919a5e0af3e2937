/**
 * Untrusted by design (issue 14 §5): a hub that tampers with what it relays cannot make a device
 * run altered module bytes, an older desired state, or another device's desired state. The hub
 * is started with the test-only tamper option; real agents behind it refuse each and report why.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { silentLogger } from '../../common/logger.js';
import { startAgent } from '../../device-agent/agent.js';
import { hubTopics } from '../../protocol/hubs.js';
import { topics } from '../../protocol/index.js';
import { desiredModuleOf, desiredState, envelopeOf, exampleModule, testTrust } from '../agent/helpers.js';
import { waitFor } from '../helpers/wait.js';
import { onCleanup, siteDocument, startTestHub, startUpstream, tempDir } from './helpers.js';

test('agents behind a tampering hub refuse altered module bytes, a replayed older desired state and another device\'s desired state, each with its reason in the reported state', async (t) => {
  const upstream = await startUpstream(t);
  const api = await mqtt.connectAsync(upstream.url, { protocolVersion: 4, clientId: 'central', clean: true, reconnectPeriod: 0 });
  onCleanup(t, () => api.endAsync(true));
  const hub = await startTestHub(t, { upstreamUrl: upstream.url, dataDir: tempDir(t), tamper: { alterModules: true } });
  assert.ok(hub.tamper, 'the tamper controls exist only on a hub started with the test-only option');
  await api.publishAsync(hubTopics.hub('north', 'site'), JSON.stringify(siteDocument('north', 1, [{ deviceId: 'gw-1', secret: 's1' }, { deviceId: 'gw-2', secret: 's2' }])), { qos: 1, retain: true });
  await waitFor('site revision 1', () => (hub.siteRevision() === 1 ? true : undefined));

  const ema = exampleModule('ema');
  await api.publishAsync(topics.module(ema.sha256), JSON.stringify(envelopeOf(ema)), { qos: 1, retain: true });
  await api.publishAsync(topics.device('gw-1', 'desired'), JSON.stringify(desiredState('gw-1', 1, [desiredModuleOf(ema, { input: 'temperature' })])), { qos: 1, retain: true });
  await api.publishAsync(topics.device('gw-2', 'desired'), JSON.stringify(desiredState('gw-2', 7, [])), { qos: 1, retain: true });

  const agent = await startAgent(
    { deviceId: 'gw-1', broker: { url: hub.broker.url, username: 'gw-1', password: 's1' }, profile: 'sim-x86-64', stateDir: tempDir(t), moduleFetchTimeoutMs: 5000, reconnectPeriodMs: 100, reconnectMaxMs: 500, trust: testTrust() },
    { logger: silentLogger },
  );
  onCleanup(t, () => agent.stop());

  // 1. Altered module bytes: the module never runs; the reason names the hash mismatch.
  const failed = await waitFor('the altered module refused', () => agent.reportedState().modules.find((m) => m.name === 'ema' && m.state === 'failed'), 20_000);
  assert.match(failed.reason ?? '', /sha256 mismatch/);
  assert.equal(agent.reportedState().modules.filter((m) => m.state === 'running').length, 0);

  // 2. The API moves gw-1 on to revision 2; the hub replays revision 1: refused as stale.
  await api.publishAsync(topics.device('gw-1', 'desired'), JSON.stringify(desiredState('gw-1', 2, [])), { qos: 1, retain: true });
  await agent.whenApplied(2, 15_000);
  await hub.tamper.replayOlderDesired('gw-1');
  const stale = await waitFor('the replay refused', () => agent.reportedState().errors.find((error) => error.code === 'WF_AGENT_DESIRED_STALE'), 15_000);
  assert.match(stale.message, /revision 1 refused as stale: revision 2 is already applied/);
  assert.equal(agent.reportedState().revision, 2);

  // 3. gw-2's (validly signed) desired state served on gw-1's topic: refused as another device's.
  await hub.tamper.serveDesiredOf('gw-1', 'gw-2');
  const other = await waitFor('the other device\'s state refused', () => agent.reportedState().errors.find((error) => error.code === 'WF_AGENT_DESIRED_OTHER_DEVICE'), 15_000);
  assert.match(other.message, /desired state for device 'gw-2' ignored by device 'gw-1'/);
  assert.equal(agent.reportedState().revision, 2);

  // The centre reads the same reasons: the hub relays the reported state upstream unchanged.
  let lastReported = '';
  api.on('message', (topic, payload) => topic === topics.device('gw-1', 'reported') && (lastReported = payload.toString()));
  await api.subscribeAsync(topics.device('gw-1', 'reported'), { qos: 1 });
  await waitFor('the refusals in the reported state upstream', () =>
    lastReported.includes('WF_AGENT_DESIRED_OTHER_DEVICE') && lastReported.includes('WF_AGENT_DESIRED_STALE') ? true : undefined, 15_000);
});
