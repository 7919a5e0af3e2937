/**
 * Keys through the API: only modules signed by a trusted publisher are accepted; publisher keys
 * are trusted and revoked by new root-signed list versions; with the root key off the server,
 * changes are refused and a list signed elsewhere is adopted instead; the resign-desired job
 * re-publishes desired states before they expire.
 */
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KEY_FILES } from '../../fleet-api/index.js';
import {
  checkDesiredSigners,
  decodePayload,
  generateSigningKey,
  PROTOCOL_VERSION,
  signingKeyFromPem,
  signTrustedKeys,
  SERVICE_USERNAME,
  topics,
  trustedKeyOf,
  trustedKeysProblem,
} from '../../protocol/index.js';
import { readFileSync } from 'node:fs';
import { signedModuleBody } from './helpers/fleet.js';
import { collect, connectClient, startApi, waitFor } from './helpers/harness.js';
import { abiModule, manifestFor, toBase64 } from './helpers/wasm.js';

test('uploads need a trusted publisher signature over exactly that manifest, size and hash', async (t) => {
  const h = await startApi(t);
  const wasm = abiModule({ label: 'signed' });
  const unsigned = await h.call('POST', '/api/v1/modules', { manifest: manifestFor('ema', '1.0.0'), wasm: toBase64(wasm) });
  assert.equal(unsigned.status, 422);
  assert.equal(unsigned.body.error.code, 'WF_API_MODULE_UNSIGNED');
  assert.equal(unsigned.body.error.field, 'body/signatures');

  const stranger = generateSigningKey();
  const foreign = await h.call('POST', '/api/v1/modules', signedModuleBody(h, manifestFor('ema', '1.0.0'), wasm, stranger));
  assert.equal(foreign.status, 403);
  assert.equal(foreign.body.error.code, 'WF_API_MODULE_SIGNATURE');
  assert.match(foreign.body.error.message, new RegExp(`key ${stranger.keyId.slice(0, 16)} is not trusted`));

  // A genuine signature, moved onto another manifest (a raised memory limit): it no longer verifies.
  const genuine = signedModuleBody(h, manifestFor('ema', '1.0.0'), wasm);
  const moved = await h.call('POST', '/api/v1/modules', { ...genuine, manifest: manifestFor('ema', '1.0.0', { limits: { memoryPages: 4096 } }) });
  assert.equal(moved.status, 403);
  assert.match(moved.body.error.message, /does not verify/);

  const accepted = await h.call('POST', '/api/v1/modules', genuine);
  assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
  const detail = await h.call('GET', '/api/v1/modules/ema/1.0.0');
  assert.deepEqual(detail.body.signatures, genuine.signatures);
});

test('a publisher key is trusted and revoked through new root-signed list versions', async (t) => {
  const h = await startApi(t);
  const before = await h.call('GET', '/api/v1/keys');
  assert.equal(before.status, 200);
  assert.equal(before.body.trustedKeys.version, 1);
  assert.equal(before.body.root.online, true);
  assert.deepEqual(before.body.trustedKeys.keys.map((k: { role: string }) => k.role).sort(), ['fleet', 'publisher']);

  const ci = generateSigningKey();
  const trusted = await h.call('POST', '/api/v1/keys', { publicKey: ci.publicKey, name: 'ci' });
  assert.equal(trusted.status, 201, JSON.stringify(trusted.body));
  assert.equal(trusted.body.trustedKeys.version, 2);
  assert.equal(trustedKeysProblem(trusted.body.trustedKeys, before.body.root.publicKey, Date.now()), undefined, 'signed by the root key');
  assert.equal((await h.call('POST', '/api/v1/keys', { publicKey: ci.publicKey, name: 'ci' })).status, 409);
  const byCi = await h.call('POST', '/api/v1/modules', signedModuleBody(h, manifestFor('ci-mod', '1.0.0'), abiModule({ label: 'ci' }), ci));
  assert.equal(byCi.status, 201, JSON.stringify(byCi.body));

  const revoked = await h.call('DELETE', `/api/v1/keys/${ci.keyId.slice(0, 12)}`);
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  assert.equal(revoked.body.trustedKeys.version, 3);
  assert.ok(!revoked.body.trustedKeys.keys.some((k: { keyId: string }) => k.keyId === ci.keyId));
  const afterRevoke = await h.call('POST', '/api/v1/modules', signedModuleBody(h, manifestFor('ci-mod', '1.0.1'), abiModule({ label: 'ci2' }), ci));
  assert.equal(afterRevoke.status, 403);

  // The fleet key is rotated, never revoked; unknown ids are 404.
  const fleetRevoke = await h.call('DELETE', `/api/v1/keys/${before.body.fleetKeyId}`);
  assert.equal(fleetRevoke.status, 400);
  assert.equal((await h.call('DELETE', '/api/v1/keys/0123456789abcdef')).status, 404);
});

test('with the root key offline, changes are refused and a list signed elsewhere is adopted', async (t) => {
  const h = await startApi(t);
  const keysDir = h.api.signing.keysDir;
  const offline = join(keysDir, '..', 'root-on-usb.key');
  renameSync(join(keysDir, KEY_FILES.root), offline);
  const root = signingKeyFromPem(readFileSync(offline, 'utf8'));

  const ci = generateSigningKey();
  const refused = await h.call('POST', '/api/v1/keys', { publicKey: ci.publicKey, name: 'ci' });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, 'WF_API_ROOT_KEY_OFFLINE');
  assert.match(refused.body.error.message, /sign-trusted/);
  assert.equal((await h.call('GET', '/api/v1/keys')).body.root.online, false);

  const current = h.api.signing.trustedKeys();
  const next = (version: number, signer = root) =>
    signTrustedKeys({ v: PROTOCOL_VERSION, version, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 86_400_000).toISOString(), keys: [...current.keys, trustedKeyOf(ci, 'publisher', 'ci')] }, signer);
  const forged = await h.call('PUT', '/api/v1/keys/trusted', next(2, generateSigningKey()));
  assert.equal(forged.status, 422);
  assert.match(forged.body.error.message, /not signed by the root key/);
  const notNewer = await h.call('PUT', '/api/v1/keys/trusted', next(1));
  assert.equal(notNewer.status, 422);
  const adopted = await h.call('PUT', '/api/v1/keys/trusted', next(2));
  assert.equal(adopted.status, 200, JSON.stringify(adopted.body));
  assert.equal(h.api.signing.trustedKeys().version, 2);
  const byCi = await h.call('POST', '/api/v1/modules', signedModuleBody(h, manifestFor('ci-mod', '1.0.0'), abiModule({ label: 'ci' }), ci));
  assert.equal(byCi.status, 201);
});

test('resign-desired re-publishes, freshly signed, every desired state about to expire', async (t) => {
  const h = await startApi(t, { live: true, options: { signing: { desiredTtlS: 60, resignMarginS: 59 } } });
  const provisioned = await h.call('POST', '/api/v1/devices', { id: 'gw-01', profile: 'sim-x86-64' });
  assert.equal(provisioned.status, 201);
  assert.equal(provisioned.body.trust.root, h.api.signing.rootPublicKey, 'the agent is given the root public key');
  assert.equal(provisioned.body.trust.keys.version, 1);
  await h.call('POST', '/api/v1/modules', signedModuleBody(h, manifestFor('ema', '1.0.0'), abiModule({ label: 'resign' })));
  const deployed = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['gw-01'] } });
  assert.equal(deployed.status, 201, JSON.stringify(deployed.body));

  // The harness broker has no ACL, so this reader may watch the desired topic.
  const reader = await connectClient(t, h.broker!.url, SERVICE_USERNAME, 'test-service-password');
  const seen = await collect(reader, topics.device('gw-01', 'desired'));
  const first = await waitFor(() => seen[0], 3000, 'retained desired state');
  const firstState = decodePayload('desired', first.payload);
  assert.ok(firstState.ok);
  // Past the 1 s that separates expiry from the margin, the state is due for re-signing.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const result = (await h.api.runJob('resign-desired')) as { due: number; resigned: number };
  assert.deepEqual([result.due, result.resigned], [1, 1]);
  const second = await waitFor(() => seen[1], 3000, 're-signed desired state');
  const secondState = decodePayload('desired', second.payload);
  assert.ok(secondState.ok);
  assert.equal(secondState.value.revision, firstState.value.revision, 'same state, same revision');
  assert.ok(Date.parse(secondState.value.expiresAt) > Date.parse(firstState.value.expiresAt));
  assert.ok(checkDesiredSigners(secondState.value, h.api.signing.trustedKeys().keys).ok);

  const jobs = await h.call('GET', '/api/v1/jobs');
  const resign = jobs.body.jobs.find((job: { name: string }) => job.name === 'resign-desired');
  assert.equal(resign.lastRun.ok, true);
  assert.equal(resign.lastRun.result.trustedKeysVersion, 1);
});

test('signing options are checked: a re-sign margin must be shorter than the lifetime', async (t) => {
  await assert.rejects(startApi(t, { options: { signing: { desiredTtlS: 600, resignMarginS: 600 } } }), /signing\/resignMarginS/);
});
