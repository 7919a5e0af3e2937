import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePayload, SERVICE_USERNAME, topics } from '../../protocol/index.js';
import { requestedLimits } from '../../protocol/index.js';
import { collect, connectClient, startApi, waitFor, type Harness } from './helpers/harness.js';
import { provision, signedModuleBody } from './helpers/fleet.js';
import { abiModule, manifestFor } from './helpers/wasm.js';
import { moduleFootprint } from '../../wasm-host/footprint.js';

/** Uploads a module whose manifest requests `limits` and whose binary declares `memoryMinimum` pages. */
async function uploadWith(h: Harness, version: string, limits: Record<string, number> | undefined, memoryMinimum = 1): Promise<void> {
  const manifest = manifestFor('ema', version, limits ? { limits } : {});
  const res = await h.call('POST', '/api/v1/modules', signedModuleBody(h, manifest, abiModule({ label: `ema@${version}`, memoryMinimum })));
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

test('requestedLimits keeps per key the smallest request and nothing when none asks', () => {
  assert.equal(requestedLimits(undefined, null), undefined);
  assert.equal(requestedLimits({}, {}), undefined);
  assert.deepEqual(requestedLimits({ memoryPages: 16, cpuMsPerBatch: 50 }, { cpuMsPerBatch: 20, maxOutputsPerBatch: 64 }), {
    memoryPages: 16,
    cpuMsPerBatch: 20,
    maxOutputsPerBatch: 64,
  });
  assert.deepEqual(requestedLimits({ cpuMsPerBatch: 10 }, { cpuMsPerBatch: 30 }), { cpuMsPerBatch: 10 });
});

test('deployment limits are stored, shown, and reach the device merged with the manifest limits over retained MQTT', async (t) => {
  const h = await startApi(t, { live: true });
  await provision(h, 'gw-01');
  await provision(h, 'gw-02');
  await uploadWith(h, '1.0.0', { memoryPages: 16, cpuMsPerBatch: 50 });

  const res = await h.call('POST', '/api/v1/deployments', {
    module: 'ema',
    version: '1.0.0',
    target: { devices: ['gw-01'] },
    limits: { cpuMsPerBatch: 20, maxOutputsPerBatch: 64 },
    strategy: { canary: 0 },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const detail = await h.call('GET', `/api/v1/deployments/${res.body.id}`);
  assert.deepEqual(detail.body.limits, { cpuMsPerBatch: 20, maxOutputsPerBatch: 64 }, 'the request as sent, not the merge');
  const listed = (await h.call('GET', '/api/v1/deployments')).body.deployments;
  assert.deepEqual(listed[0].limits, { cpuMsPerBatch: 20, maxOutputsPerBatch: 64 });

  const reader = await connectClient(t, h.broker!.url, SERVICE_USERNAME, 'test-service-password');
  const seen = await collect(reader, topics.device('gw-01', 'desired'));
  const message = await waitFor(() => seen.at(-1), 3000, 'the retained desired state of gw-01');
  assert.equal(message.retain, true);
  const decoded = decodePayload('desired', message.payload);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value.modules[0]!.limits, { memoryPages: 16, cpuMsPerBatch: 20, maxOutputsPerBatch: 64 }, 'per key the smaller of manifest and deployment');

  // No limits anywhere: the entry carries none and the deployment shows null.
  await uploadWith(h, '2.0.0', undefined);
  const bare = await h.call('POST', '/api/v1/deployments', { module: 'ema', version: '2.0.0', target: { devices: ['gw-02'] }, strategy: { canary: 0 } });
  assert.equal(bare.status, 201, JSON.stringify(bare.body));
  assert.equal((await h.call('GET', `/api/v1/deployments/${bare.body.id}`)).body.limits, null);
  const device = (await h.call('GET', '/api/v1/devices/gw-02')).body;
  assert.equal('limits' in device.desired.modules[0], false);
});

test('redeploying the same version with other limits is a change; with the same limits it is not', async (t) => {
  const h = await startApi(t);
  await provision(h, 'gw-01');
  await uploadWith(h, '1.0.0', undefined);
  const revision = async () => (await h.call('GET', '/api/v1/devices/gw-01')).body.desired.revision as number;
  const deploy = (limits?: Record<string, number>) =>
    h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['gw-01'] }, strategy: { canary: 0 }, ...(limits ? { limits } : {}) });

  assert.equal((await deploy({ cpuMsPerBatch: 40 })).status, 201);
  assert.equal(await revision(), 1);
  assert.equal((await deploy({ cpuMsPerBatch: 40 })).status, 201);
  assert.equal(await revision(), 1, 'identical limits: no new revision');
  assert.equal((await deploy({ cpuMsPerBatch: 25 })).status, 201);
  assert.equal(await revision(), 2, 'a lower CPU budget is a change');
  assert.deepEqual((await h.call('GET', '/api/v1/devices/gw-01')).body.desired.modules[0].limits, { cpuMsPerBatch: 25 });
  assert.equal((await deploy()).status, 201);
  assert.equal(await revision(), 3, 'dropping the limits is a change too');
});

test('bad limits are a 400 naming the field; a request above the profile ceiling is accepted', async (t) => {
  const h = await startApi(t);
  await provision(h, 'gw-01');
  await uploadWith(h, '1.0.0', undefined);
  const deploy = (limits: unknown) => h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['gw-01'] }, limits });

  const zero = await deploy({ cpuMsPerBatch: 0 });
  assert.equal(zero.status, 400, JSON.stringify(zero.body));
  assert.equal(zero.body.error.field, 'body/limits/cpuMsPerBatch');
  const fraction = await deploy({ memoryPages: 2.5 });
  assert.equal(fraction.status, 400);
  assert.equal(fraction.body.error.field, 'body/limits/memoryPages');
  const text = await deploy({ maxOutputsPerBatch: 'many' });
  assert.equal(text.status, 400);
  assert.equal(text.body.error.field, 'body/limits/maxOutputsPerBatch');
  const unknown = await deploy({ cpuSeconds: 1 });
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.error.field, /^body\/limits/);
  assert.match(unknown.body.error.message, /cpuSeconds/);
  assert.equal((await h.call('GET', '/api/v1/deployments')).body.deployments.length, 0, 'nothing stored for a bad body');

  // sim-x86-64 grants at most 64 pages: asking for more is a maximum, not an error.
  const generous = await deploy({ memoryPages: 4096 });
  assert.equal(generous.status, 201, JSON.stringify(generous.body));
});

test('a memoryPages request below the binary minimum is refused at deploy time with the fit wording', async (t) => {
  const h = await startApi(t);
  await provision(h, 'gw-01');
  await uploadWith(h, '1.0.0', undefined, 20);
  const deploy = (limits: Record<string, number>) => h.call('POST', '/api/v1/deployments', { module: 'ema', version: '1.0.0', target: { devices: ['gw-01'] }, limits });

  const starved = await deploy({ memoryPages: 8 });
  assert.equal(starved.status, 422, JSON.stringify(starved.body));
  assert.equal(starved.body.error.code, 'WF_API_TARGET_INVALID');
  assert.equal(starved.body.error.field, 'body/limits/memoryPages');
  assert.match(
    starved.body.error.message,
    /device gw-01 \(profile sim-x86-64\) cannot run it: ema@1\.0\.0 needs at least 20 pages \(1280 KiB\) of memory; it would be granted 8 pages \(512 KiB\) \(its requested memoryPages limit\)/,
  );
  assert.equal((await h.call('GET', '/api/v1/deployments')).body.deployments.length, 0, 'nothing stored for a refused deployment');
  // Its tables and code are charged to the same pages, as the agent's sandbox charges them
  // (firmware-profiles/fit.ts): exactly the minimum leaves too little, the minimum plus them fits.
  const overhead = moduleFootprint(abiModule({ label: 'ema@1.0.0', memoryMinimum: 20 })).overheadPages;
  const tight = await deploy({ memoryPages: 20 });
  assert.equal(tight.status, 422, JSON.stringify(tight.body));
  assert.match(tight.body.error.message, new RegExp(`its tables and code cost .* \\(${overhead} pages?\\) of its memory budget of 20 pages, leaving ${20 - overhead} pages of linear memory; it needs 20`));
  assert.equal((await deploy({ memoryPages: 20 + overhead })).status, 201, 'the minimum plus the tables and code fits');
});
