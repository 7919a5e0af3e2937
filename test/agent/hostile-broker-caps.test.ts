/**
 * Endless data from a broker that enforces nothing (docs/security.md): the platform's broker
 * refuses oversize publishes itself, so this one is a bare Aedes, as an attacker who owns the
 * broker would run it. Every payload over its cap is dropped by the agent on its byte length,
 * before it is parsed: a payload that is over the cap and not JSON is reported as too large, not
 * as bad JSON. The agent keeps running its verified state.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { startAgent } from '../../device-agent/agent.js';
import { PAYLOAD_CAPS, topics } from '../../protocol/index.js';
import { connectClient, desiredModuleOf, desiredState, envelopeOf, exampleModule, startBroker, tempDir, testTrust, until } from './helpers.js';

const DEVICE = 'gw-caps';
const ema = exampleModule('ema');
const zscore = exampleModule('zscore');

test('payloads over their cap are dropped before parsing and reported; the verified state keeps running', async (t) => {
  const broker = await startBroker(t);
  const attacker = await connectClient(t, broker.url, 'attacker');
  await attacker.publishAsync(topics.module(ema.sha256), JSON.stringify(envelopeOf(ema)), { qos: 1, retain: true });
  await attacker.publishAsync(topics.device(DEVICE, 'desired'), JSON.stringify(desiredState(DEVICE, 1, [desiredModuleOf(ema)])), { qos: 1, retain: true });
  const agent = await startAgent(
    { deviceId: DEVICE, broker: { url: broker.url, username: DEVICE, password: 'pw' }, profile: 'sim-x86-64', stateDir: tempDir(t), moduleFetchTimeoutMs: 3000, reconnectPeriodMs: 0, trust: testTrust() },
    { logger: silentLogger },
  );
  t.after(() => agent.stop());
  await agent.whenApplied(1, 10_000);

  // One byte over the desired-state cap, and not even JSON: the length alone condemns it.
  await attacker.publishAsync(topics.device(DEVICE, 'desired'), Buffer.alloc(PAYLOAD_CAPS.desired + 1, '{'), { qos: 1 });
  await until(() => agent.stats().malformed === 1, 5000, 'oversize desired state dropped');
  const error = agent.reportedState().errors.at(-1);
  assert.equal(error?.code, 'WF_AGENT_DESIRED_MALFORMED');
  assert.match(error?.message ?? '', new RegExp(`WF_PROTO_TOO_LARGE: desired payload of ${PAYLOAD_CAPS.desired + 1} bytes exceeds its cap of ${PAYLOAD_CAPS.desired} bytes`));

  // A module envelope over its cap on the topic of a module the next desired state asks for.
  await attacker.publishAsync(topics.module(zscore.sha256), Buffer.alloc(PAYLOAD_CAPS.module + 1, 'A'), { qos: 1, retain: true });
  await attacker.publishAsync(topics.device(DEVICE, 'desired'), JSON.stringify(desiredState(DEVICE, 2, [desiredModuleOf(ema), desiredModuleOf(zscore)])), { qos: 1, retain: true });
  await agent.whenApplied(2, 10_000);
  const refused = agent.reportedState().modules.find((m) => m.name === 'zscore');
  assert.equal(refused?.state, 'failed');
  assert.match(refused?.reason ?? '', new RegExp(`module zscore@[^ ]+ envelope refused: WF_PROTO_TOO_LARGE: module payload of ${PAYLOAD_CAPS.module + 1} bytes exceeds its cap`));
  assert.equal(agent.reportedState().modules.find((m) => m.name === 'ema')?.state, 'running');
});
