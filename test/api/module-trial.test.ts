/**
 * Upload refuses what only running shows (a binary that disagrees with its manifest, start code
 * that never returns) and a giant data segment, each with the reason, and stores nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureBuilt } from '../../modules-as/tools/build-examples.js';
import { fromRoot } from '../../common/paths.js';
import { MAX_WASM_BYTES } from '../../protocol/index.js';
import { startApi } from './helpers/harness.js';
import { signedModuleBody } from './helpers/fleet.js';
import { abuseManifest, abuseModule } from '../fixtures/hostile/abuse-modules.js';

const upload = async (h: Awaited<ReturnType<typeof startApi>>, manifest: unknown, bytes: Uint8Array) =>
  h.call('POST', '/api/v1/modules', signedModuleBody(h, manifest, bytes));

test('modules that cannot start, or are too large, are refused at upload with the reason', async (t) => {
  const h = await startApi(t);
  const { call } = h;
  const ema = await ensureBuilt(fromRoot('modules-as', 'examples', 'ema'));

  const undeclaredMetric = await upload(h, { ...ema.manifest, metrics: [{ name: 'smoothed' }] }, ema.bytes);
  assert.equal(undeclaredMetric.status, 422, JSON.stringify(undeclaredMetric.body));
  assert.match(undeclaredMetric.body.error.message, /metric 'ema' is not declared in manifest ema/);

  const { every: _every, ...paramsWithoutEvery } = ema.manifest.params;
  const undeclaredParam = await upload(h, { ...ema.manifest, params: paramsWithoutEvery }, ema.bytes);
  assert.equal(undeclaredParam.status, 422);
  assert.match(undeclaredParam.body.error.message, /every/);

  const bigdata = await ensureBuilt(fromRoot('test', 'fixtures', 'hostile', 'bigdata'));
  assert.ok(bigdata.bytes.byteLength > MAX_WASM_BYTES, 'the data segment makes the binary too large');
  const tooBig = await upload(h, bigdata.manifest, bigdata.bytes);
  assert.equal(tooBig.status, 413);
  assert.equal(tooBig.body.error.code, 'WF_API_MODULE_TOO_LARGE');

  const hang = await ensureBuilt(fromRoot('test', 'fixtures', 'hostile', 'hangstart'));
  const hung = await upload(h, hang.manifest, hang.bytes);
  assert.equal(hung.status, 422);
  assert.match(hung.body.error.message, /start exceeded its CPU budget/);

  assert.deepEqual((await call('GET', '/api/v1/modules')).body.modules, []);
  const accepted = await upload(h, ema.manifest, ema.bytes);
  assert.equal(accepted.status, 201, 'the same binary with its own manifest is accepted');
});

test('modules over the caps every device enforces are refused at upload with the limit named, and the server lives on', async (t) => {
  const h = await startApi(t);
  const cases: Array<[Uint8Array, string, RegExp]> = [
    // Instantiated in the server, this table alone would have taken broker and API down together.
    [abuseModule({ tables: [[10_000_000, 10_000_000]] }), 'tableEntries', /tables declare 10000000 entries; the cap is 10000/],
    [abuseModule({ tables: [[2, undefined]] }), 'tableMaximum', /declares no maximum/],
    // Under 2 MiB, ~70 MiB once compiled.
    [abuseModule({ extraFunctions: 60_000 }), 'functions', /defines 60005 functions/],
    [abuseModule({ extraFunctions: 1, extraBodyBytes: 100_000 }), 'functionBodyBytes', /a function body is/],
  ];
  for (const [bytes, limit, reason] of cases) {
    const res = await upload(h, abuseManifest('abuse'), bytes);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'WF_API_MODULE_OVER_LIMIT');
    assert.equal(res.body.error.field, 'body/wasm');
    assert.match(res.body.error.message, reason);
    assert.match(res.body.error.message, new RegExp(`\\(limit ${limit}\\)`));
  }
  // A harmless module of the same shape is accepted.
  assert.equal((await upload(h, abuseManifest('fine'), abuseModule({}))).status, 201);
  assert.deepEqual((await h.call('GET', '/api/v1/modules')).body.modules.map((m: { name: string }) => m.name), ['fine']);
});
