import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePayload, MAX_WASM_BYTES, SERVICE_USERNAME, sha256Hex, topics } from '../../protocol/index.js';
import { collect, connectClient, startApi, waitFor } from './helpers/harness.js';
import { abiModule, manifestFor, toBase64 } from './helpers/wasm.js';
import { signedModuleBody } from './helpers/fleet.js';

test('a valid module is stored (201), re-uploading it is idempotent (200), other bytes conflict (409)', async (t) => {
  const h = await startApi(t);
  const { call } = h;
  const wasm = abiModule({ label: 'v1' });
  const body = signedModuleBody(h, manifestFor('ema', '1.0.0'), wasm);
  const created = await call('POST', '/api/v1/modules', body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.name, 'ema');
  assert.equal(created.body.version, '1.0.0');
  assert.equal(created.body.sha256, sha256Hex(wasm));
  assert.equal(created.body.size, wasm.byteLength);

  const again = await call('POST', '/api/v1/modules', body);
  assert.equal(again.status, 200);
  assert.equal(again.body.sha256, created.body.sha256);

  const different = await call('POST', '/api/v1/modules', signedModuleBody(h, manifestFor('ema', '1.0.0'), abiModule({ label: 'other' })));
  assert.equal(different.status, 409);
  assert.equal(different.body.error.code, 'WF_API_CONFLICT');

  const sameBytesOtherName = await call('POST', '/api/v1/modules', signedModuleBody(h, manifestFor('ema-copy', '1.0.0'), wasm));
  assert.equal(sameBytesOtherName.status, 409);
  assert.match(sameBytesOtherName.body.error.message, /already published as ema@1\.0\.0/);

  const list = await call('GET', '/api/v1/modules');
  assert.deepEqual(list.body.modules.map((m: { name: string }) => m.name), ['ema']);
  const detail = await call('GET', '/api/v1/modules/ema/1.0.0');
  assert.equal(detail.status, 200);
  assert.equal(detail.body.manifest.params.alpha.default, 0.1);
  assert.equal(detail.body.sha256, sha256Hex(wasm));
  assert.ok(detail.body.createdAt);
  assert.equal((await call('GET', '/api/v1/modules/ema/9.9.9')).status, 404);
});

test('binaries failing the ABI check are refused with 422 and the reason', async (t) => {
  const h = await startApi(t);
  const { call } = h;
  const valid = abiModule();
  // Random bytes behind a valid header, so the refusal comes from validation, not the magic check.
  const noise = Uint8Array.from({ length: 512 }, (_, i) => (i * 2654435761) >>> 24);
  const cases: Array<[Uint8Array, RegExp]> = [
    [new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), /not a valid WebAssembly binary/],
    [valid.subarray(0, valid.length - 7), /not a valid WebAssembly binary/],
    [new Uint8Array([...valid.subarray(0, 8), ...noise]), /not a valid WebAssembly binary/],
    [abiModule({ omitExport: 'wf_process' }), /required export wf_process is missing/],
    [abiModule({ extraImport: { module: 'wasi_snapshot_preview1', name: 'fd_write' } }), /outside the ABI allow-list/],
    [abiModule({ ownMemory: true }), /own memory/],
  ];
  for (const [bytes, reason] of cases) {
    const res = await call('POST', '/api/v1/modules', signedModuleBody(h, manifestFor('bad', '1.0.0'), bytes));
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'WF_API_MODULE_INVALID');
    assert.match(res.body.error.message, reason);
    assert.equal(res.body.error.field, 'body/wasm');
  }
  assert.deepEqual((await call('GET', '/api/v1/modules')).body.modules, []);
});

test('manifest problems name the manifest field; bad base64 and oversized binaries are refused', async (t) => {
  const { call } = await startApi(t, { options: { bodyLimitBytes: 8 * 1024 * 1024 } });
  const wasm = toBase64(abiModule());
  const badVersion = await call('POST', '/api/v1/modules', { manifest: manifestFor('ema', '1.0'), wasm });
  assert.equal(badVersion.status, 400);
  assert.equal(badVersion.body.error.field, 'body/manifest/version');
  const badBase64 = await call('POST', '/api/v1/modules', { manifest: manifestFor('ema', '1.0.0'), wasm: '!!!not base64!!!' });
  assert.equal(badBase64.status, 400);
  assert.equal(badBase64.body.error.field, 'body/wasm');
  const huge = Buffer.alloc(MAX_WASM_BYTES + 3).toString('base64');
  const tooLarge = await call('POST', '/api/v1/modules', { manifest: manifestFor('ema', '1.0.0'), wasm: huge });
  assert.equal(tooLarge.status, 413);
  assert.equal(tooLarge.body.error.code, 'WF_API_MODULE_TOO_LARGE');
});

test('an uploaded module is published retained on its content-addressed topic', async (t) => {
  const h = await startApi(t, { live: true });
  const { call, broker } = h;
  const wasm = abiModule({ label: 'retained' });
  const created = await call('POST', '/api/v1/modules', signedModuleBody(h, manifestFor('ema', '1.2.0'), wasm));
  assert.equal(created.status, 201);
  // Subscribing after the upload: only a retained message can arrive.
  const reader = await connectClient(t, broker!.url, SERVICE_USERNAME, 'test-service-password');
  const seen = await collect(reader, topics.module(created.body.sha256));
  const message = await waitFor(() => seen[0], 3000, 'retained module envelope');
  assert.equal(message.retain, true);
  const decoded = decodePayload('module', message.payload);
  assert.ok(decoded.ok);
  assert.equal(decoded.value.sha256, sha256Hex(wasm));
  assert.equal(decoded.value.manifest.version, '1.2.0');
  assert.deepEqual(Buffer.from(decoded.value.wasm, 'base64'), Buffer.from(wasm));
  // The publisher's signature travels with it, for the agents to check.
  assert.equal(decoded.value.signatures?.[0]?.keyId, h.api.signing.trustedKeys().keys.find((k) => k.role === 'publisher')?.keyId);
});

test('an example module from the module kit, built by asc, is accepted', async (t) => {
  const { ensureBuilt } = await import('../../modules-as/tools/build-examples.js');
  const { fromRoot } = await import('../../common/paths.js');
  const built = await ensureBuilt(fromRoot('modules-as/examples/ema'));
  const h = await startApi(t);
  const res = await h.call('POST', '/api/v1/modules', signedModuleBody(h, built.manifest, built.bytes));
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal((res.body as { sha256: string }).sha256, sha256Hex(built.bytes));
});
