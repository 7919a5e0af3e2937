import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openStore } from '../../fleet-api/index.js';
import { MIGRATIONS } from '../../fleet-api/store/migrations.js';
import { tempDir } from './helpers/harness.js';

test('the store opens in WAL mode with foreign keys and a schema version, and reopens cleanly', (t) => {
  const path = join(tempDir(t), 'fleet.db');
  const store = openStore(path);
  assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
  const version = store.db.prepare('SELECT version FROM schema_version').pluck().get();
  assert.equal(version, MIGRATIONS.length);
  store.insertDevice({ id: 'gw-01', profile: 'sim-x86-64', tags: { site: 'n' }, credentialHash: 'h' });
  store.close();
  const again = openStore(path);
  t.after(() => again.close());
  assert.equal(again.getDevice('gw-01')?.tags.site, 'n');
  assert.equal(again.db.prepare('SELECT count(*) FROM schema_version').pluck().get(), 1);
});

test('deleting a device cascades to its tags and results', (t) => {
  const store = openStore(join(tempDir(t), 'fleet.db'));
  t.after(() => store.close());
  store.insertDevice({ id: 'gw-01', profile: 'sim-x86-64', tags: { site: 'n' }, credentialHash: 'h' });
  store.ingestResultBatches([{ v: 1, deviceId: 'gw-01', seq: 1, module: 'm', version: '1.0.0', deploymentId: 'd', input: { source: 's', firstSeq: 0, count: 1, from: 0, to: 1 }, metrics: [{ name: 'x', points: [[1, 2]] }], events: [], dropped: 0 }]);
  assert.equal(store.resultCount(), 1);
  assert.equal(store.deleteDevice('gw-01'), true);
  assert.equal(store.resultCount(), 0);
  assert.equal(store.db.prepare('SELECT count(*) FROM device_tags').pluck().get(), 0);
});

test('isOnline reads the presence flag alone and is undefined for an unknown device', (t) => {
  const store = openStore(join(tempDir(t), 'fleet.db'));
  t.after(() => store.close());
  store.insertDevice({ id: 'gw-01', profile: 'sim-x86-64', tags: {}, credentialHash: 'h' });
  assert.equal(store.isOnline('gw-01'), false);
  assert.equal(store.setPresence('gw-01', true, new Date().toISOString()), true);
  assert.equal(store.isOnline('gw-01'), true);
  assert.equal(store.isOnline('gw-01'), store.getDevice('gw-01')!.online);
  assert.equal(store.isOnline('nobody'), undefined);
});

test('misuse is a TypeError naming the argument', () => {
  assert.throws(() => openStore(''), /openStore\(path\)/);
});
