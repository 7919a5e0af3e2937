/**
 * Module fetching against a real broker, where a "hostile" client has published the retained
 * envelope the agent will find: every mismatch must be refused with a reason naming it.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { sha256Hex, topics, type DesiredModule } from '../../protocol/index.js';
import { ModuleFetcher } from '../../device-agent/module-fetcher.js';
import { topicSubscriber } from '../../device-agent/mqtt-link.js';
import { connectClient, desiredModuleOf, envelopeOf, exampleModule, startBroker } from './helpers.js';
import { initialTrustedKeys } from '../helpers/trust.js';

const ema = exampleModule('ema');

async function setup(t: TestContext, retained: Record<string, string | Buffer>, timeoutMs = 1500) {
  const broker = await startBroker(t);
  const hostile = await connectClient(t, broker.url, 'hostile');
  for (const [topic, payload] of Object.entries(retained)) await hostile.publishAsync(topic, payload, { qos: 1, retain: true });
  const agentClient = await connectClient(t, broker.url, 'gw-01');
  const fetcher = new ModuleFetcher({
    subscriber: topicSubscriber(agentClient),
    timeoutMs,
    verify: { keys: () => ({ ok: true, keys: initialTrustedKeys.keys }), profile: 'sim-x86-64', arch: 'x64' },
  });
  agentClient.on('message', (topic, payload) => fetcher.handleMessage(topic, payload));
  t.after(() => fetcher.stop());
  return { fetcher, agentClient, broker };
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  assert.fail('expected the fetch to be refused');
}

test('a genuine module is fetched, verified, cached, and its subscription dropped', async (t) => {
  const { fetcher, broker } = await setup(t, { [topics.module(ema.sha256)]: JSON.stringify(envelopeOf(ema)) });
  const module = await fetcher.fetch(desiredModuleOf(ema));
  assert.equal(sha256Hex(module.wasm), ema.sha256);
  assert.equal(module.manifest.name, 'ema');
  // Cache hit: no broker needed, and another entry of the same bytes is re-checked by name.
  await new Promise<void>((resolve) => broker.aedes.close(() => resolve()));
  assert.equal((await fetcher.fetch(desiredModuleOf(ema, { deploymentId: 'dep_2' }))).sha256, ema.sha256);
  const renamed = await refusal(fetcher.fetch(desiredModuleOf(ema, { name: 'zscore' })));
  assert.equal(renamed.code, 'WF_AGENT_MODULE_MANIFEST_MISMATCH');
});

test('bytes that do not hash to the desired sha256 are refused', async (t) => {
  const tampered = new Uint8Array(ema.wasm);
  tampered[tampered.length - 1]! ^= 0xff;
  const envelope = { ...envelopeOf(ema), wasm: Buffer.from(tampered).toString('base64') };
  const { fetcher } = await setup(t, { [topics.module(ema.sha256)]: JSON.stringify(envelope) });
  const error = await refusal(fetcher.fetch(desiredModuleOf(ema)));
  assert.equal(error.code, 'WF_AGENT_MODULE_HASH_MISMATCH');
  assert.match(error.message, new RegExp(`sha256 mismatch for ema@1.0.0: expected ${ema.sha256}, got ${sha256Hex(tampered)}`));
});

test('an envelope whose sha256 field differs from the topic is refused', async (t) => {
  const other = 'f'.repeat(64);
  const { fetcher } = await setup(t, { [topics.module(ema.sha256)]: JSON.stringify(envelopeOf(ema, { sha256: other })) });
  const error = await refusal(fetcher.fetch(desiredModuleOf(ema)));
  assert.equal(error.code, 'WF_AGENT_MODULE_HASH_MISMATCH');
  assert.match(error.message, /got envelope f{64}/);
});

test('size mismatches are refused, whether the envelope or the bytes disagree', async (t) => {
  const { fetcher } = await setup(t, { [topics.module(ema.sha256)]: JSON.stringify(envelopeOf(ema, { size: ema.wasm.byteLength + 1 })) });
  const error = await refusal(fetcher.fetch(desiredModuleOf(ema)));
  assert.equal(error.code, 'WF_AGENT_MODULE_SIZE_MISMATCH');
  assert.match(error.message, /the envelope says/);

  const desired: DesiredModule = desiredModuleOf(ema, { size: ema.wasm.byteLength + 1 });
  const { fetcher: second } = await setup(t, { [topics.module(ema.sha256)]: JSON.stringify(envelopeOf(ema, { size: desired.size })) });
  const decoded = await refusal(second.fetch(desired));
  assert.equal(decoded.code, 'WF_AGENT_MODULE_SIZE_MISMATCH');
  assert.match(decoded.message, /the decoded bytes says/);
});

test('a manifest naming another module or version is refused', async (t) => {
  const envelope = envelopeOf(ema, { manifest: { ...ema.manifest, name: 'zscore' } });
  const { fetcher } = await setup(t, { [topics.module(ema.sha256)]: JSON.stringify(envelope) });
  const error = await refusal(fetcher.fetch(desiredModuleOf(ema)));
  assert.equal(error.code, 'WF_AGENT_MODULE_MANIFEST_MISMATCH');
  assert.match(error.message, /envelope carries zscore@1.0.0/);
});

test('a binary outside the ABI is refused even when every hash matches', async (t) => {
  const empty = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const module = { wasm: empty, manifest: ema.manifest, sha256: sha256Hex(empty) };
  const { fetcher } = await setup(t, { [topics.module(module.sha256)]: JSON.stringify(envelopeOf(module)) });
  const error = await refusal(fetcher.fetch(desiredModuleOf(module)));
  assert.equal(error.code, 'WF_AGENT_MODULE_ABI_REFUSED');
  assert.match(error.message, /required export wf_abi is missing/);
});

test('oversize and non-JSON payloads are refused before parsing', async (t) => {
  const big = 'a'.repeat(64);
  const junk = 'b'.repeat(64);
  const { fetcher } = await setup(t, {
    [topics.module(big)]: Buffer.alloc(3 * 1024 * 1024, 0x7b),
    [topics.module(junk)]: '{"v":1, not json',
  });
  const oversize = await refusal(fetcher.fetch(desiredModuleOf(ema, { sha256: big })));
  assert.equal(oversize.code, 'WF_AGENT_MODULE_MALFORMED');
  assert.match(oversize.message, /WF_PROTO_TOO_LARGE: module payload of 3145728 bytes exceeds its cap/);
  const notJson = await refusal(fetcher.fetch(desiredModuleOf(ema, { sha256: junk })));
  assert.match(notJson.message, /WF_PROTO_NOT_JSON/);
});

test('a module nobody published times out as not found, and the fetch unsubscribes', async (t) => {
  const { fetcher, broker } = await setup(t, {}, 300);
  let unsubscribed = false;
  broker.aedes.on('unsubscribe', (subs) => (unsubscribed ||= subs.includes(topics.module(ema.sha256))));
  const error = await refusal(fetcher.fetch(desiredModuleOf(ema)));
  assert.equal(error.code, 'WF_AGENT_MODULE_NOT_FOUND');
  assert.match(error.message, /nothing on its topic within 300 ms/);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(unsubscribed);
});
