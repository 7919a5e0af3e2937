/**
 * `DELETE /api/v1/modules/:name/:version` against a real broker and SQLite file: a version that a
 * running deployment, a device's desired state or a rollback's previous entry still wants is
 * refused with 409 and the reason; one nothing wants goes, with its finished deployments, and its
 * retained envelope is gone for a fresh subscriber. Operator role; audited.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVICE_USERNAME, topics } from '../../protocol/index.js';
import { collect, connectClient, startApi, waitFor } from './helpers/harness.js';
import { provision, upload } from './helpers/fleet.js';

test('a module version still desired is refused with 409 and why; once unused it is deleted and its retained envelope cleared', async (t) => {
  const h = await startApi(t, { live: true });
  await provision(h, 'gw-01');
  const release = await upload(h, 'ema', '1.0.0');
  const dev = await upload(h, 'ema', '1.1.0-dev.1');
  const deploy = async (version: string): Promise<string> => {
    const res = await h.call('POST', '/api/v1/deployments', { module: 'ema', version, target: { devices: ['gw-01'] }, strategy: { canary: 0 } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const refusal = async (version: string): Promise<{ code: string; message: string; field: string }> => {
    const res = await h.call('DELETE', `/api/v1/modules/ema/${version}`);
    assert.equal(res.status, 409, JSON.stringify(res.body));
    return res.body.error;
  };

  // A running deployment names it and the device desires it.
  const releaseDeployment = await deploy('1.0.0');
  const running = await refusal('1.0.0');
  assert.equal(running.code, 'WF_API_MODULE_IN_USE');
  assert.equal(running.field, 'params/version');
  assert.match(running.message, new RegExp(`deployment ${releaseDeployment} is running; device gw-01 desires it`));

  // Cancelled, the device still desires it.
  assert.equal((await h.call('POST', `/api/v1/deployments/${releaseDeployment}/cancel`, {})).status, 200);
  assert.match((await refusal('1.0.0')).message, /^module ema@1\.0\.0 is still desired: device gw-01 desires it$/);

  // Replaced by the dev version, it is that deployment's previous entry: a rollback would bring it back.
  const devDeployment = await deploy('1.1.0-dev.1');
  assert.match((await refusal('1.0.0')).message, new RegExp(`rolling back deployment ${devDeployment} would put it back on device gw-01`));
  assert.match((await refusal('1.1.0-dev.1')).message, /is running; device gw-01 desires it/);

  // The envelope of the dev version is retained until it is deleted.
  const before = await connectClient(t, h.broker!.url, SERVICE_USERNAME, 'test-service-password');
  const retained = await collect(before, topics.module(dev.sha256));
  await waitFor(() => retained[0], 3000, 'the retained dev envelope');
  assert.ok(retained[0]!.payload.byteLength > 0);

  // Rolled back, nothing wants the dev version: it goes with its finished deployment.
  assert.equal((await h.call('POST', `/api/v1/deployments/${devDeployment}/rollback`, {})).status, 200);
  const viewer = h.api.store.createToken('viewer', 'viewer');
  assert.equal((await h.call('DELETE', '/api/v1/modules/ema/1.1.0-dev.1', undefined, viewer)).status, 403, 'a viewer may not delete');
  const deleted = await h.call('DELETE', '/api/v1/modules/ema/1.1.0-dev.1');
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  assert.deepEqual([deleted.body.name, deleted.body.version, deleted.body.sha256, deleted.body.deploymentsRemoved], ['ema', '1.1.0-dev.1', dev.sha256, 1]);
  assert.deepEqual((await h.call('GET', '/api/v1/modules')).body.modules.map((m: { version: string }) => m.version), ['1.0.0']);
  assert.equal((await h.call('GET', `/api/v1/deployments/${devDeployment}`)).status, 404);
  assert.equal((await h.call('GET', '/api/v1/modules/ema/1.1.0-dev.1')).status, 404);
  assert.equal((await h.call('DELETE', '/api/v1/modules/ema/1.1.0-dev.1')).body.error.code, 'WF_API_NOT_FOUND');
  // The subscriber that held it sees the retained message cleared.
  await waitFor(() => retained.find((m) => m.payload.byteLength === 0), 3000, 'the empty retained envelope');

  // A fresh subscriber gets nothing for the deleted version. Retained messages arrive in the order
  // of the subscriptions on one connection, so once the release's has come, the dev one never will.
  const fresh = await connectClient(t, h.broker!.url, SERVICE_USERNAME, 'test-service-password');
  const gone = await collect(fresh, topics.module(dev.sha256));
  const kept = await collect(fresh, topics.module(release.sha256));
  await waitFor(() => kept[0], 3000, 'the release envelope, still retained');
  assert.deepEqual(gone, []);

  // The release, still desired, stays; the deletion is in the audit log.
  assert.equal((await h.call('GET', '/api/v1/modules/ema/1.0.0')).status, 200);
  const audit = (await h.call('GET', '/api/v1/audit?action=module.delete')).body.entries as Array<{ target: string; status: number }>;
  assert.deepEqual(audit.map((e) => [e.target, e.status]).sort(), [
    ['ema@1.0.0', 409],
    ['ema@1.0.0', 409],
    ['ema@1.0.0', 409],
    ['ema@1.1.0-dev.1', 200],
    ['ema@1.1.0-dev.1', 403],
    ['ema@1.1.0-dev.1', 404],
    ['ema@1.1.0-dev.1', 409],
  ]);
});
