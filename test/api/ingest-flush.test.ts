/**
 * What a results query waits for: flushDevices writes (and acks) the queued batches of the devices
 * named, at once and in their order, and leaves every other device's batches to their turn.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { silentLogger } from '../../common/logger.js';
import { openStore } from '../../fleet-api/index.js';
import { createIngestion } from '../../fleet-api/ingest.js';
import { PROTOCOL_VERSION, type ResultBatch } from '../../protocol/index.js';
import { tempDir, waitFor } from './helpers/harness.js';

const batch = (deviceId: string, seq: number): ResultBatch => ({
  v: PROTOCOL_VERSION, deviceId, seq, module: 'm', version: '1.0.0', deploymentId: 'd',
  input: { source: 's', firstSeq: 0, count: 1, from: 0, to: 1 },
  metrics: [{ name: 'x', points: [[seq, seq]] }], events: [], dropped: 0,
});

test("flushDevices stores and acks the named devices' queued batches now and leaves the others queued", async (t) => {
  const store = openStore(join(tempDir(t), 'fleet.db'));
  t.after(() => store.close());
  for (const id of ['gw-01', 'gw-02', 'gw-03']) store.insertDevice({ id, profile: 'sim-x86-64', tags: {}, credentialHash: 'h' });
  const acked: string[] = [];
  // A flush period far beyond the test: nothing is written unless asked.
  const ingestion = createIngestion(store, { flushMs: 10_000, maxBatches: 500, fairShare: { maxRowsPerDevice: 2, maxBatchesPerDevice: 2 } }, silentLogger, {
    acknowledge: (deviceId, stored) => acked.push(...stored.map(([first, last]) => `${deviceId}:${first}-${last}`)),
  });
  t.after(() => ingestion.close());
  ingestion.handlers.results('gw-01', [batch('gw-01', 1), batch('gw-01', 2), batch('gw-01', 3)], []);
  ingestion.handlers.results('gw-02', [batch('gw-02', 1)], []);
  ingestion.handlers.results('gw-03', [batch('gw-03', 1)], []);

  ingestion.flushDevices(['gw-01', 'gw-03', 'gw-04']);
  const stored = (deviceId: string) => store.queryResults({ deviceId, limit: 10 }).map((r) => r.seq);
  assert.deepEqual(stored('gw-01'), [1, 2, 3], 'all of it, over as many shares as it takes');
  assert.deepEqual(stored('gw-03'), [1]);
  assert.deepEqual(stored('gw-02'), [], 'another device waits for its turn');
  assert.equal(ingestion.counters().flushes, 3, 'two shares of gw-01 and one of gw-03: nobody else in them');
  await waitFor(() => acked.length >= 2 || undefined, 3000, 'the acks');
  assert.deepEqual(acked.sort(), ['gw-01:1-3', 'gw-03:1-1']);

  ingestion.flush();
  assert.deepEqual(stored('gw-02'), [1]);
});

test('flushDevicesSoon writes the queued batches of every device asked for in one event-loop turn together, once', async (t) => {
  const store = openStore(join(tempDir(t), 'fleet.db'));
  t.after(() => store.close());
  for (const id of ['gw-01', 'gw-02', 'gw-03']) store.insertDevice({ id, profile: 'sim-x86-64', tags: {}, credentialHash: 'h' });
  const acked: string[] = [];
  const ingestion = createIngestion(store, { flushMs: 10_000, maxBatches: 500, fairShare: { maxRowsPerDevice: 2, maxBatchesPerDevice: 2, maxRowsPerTurn: 100 } }, silentLogger, {
    acknowledge: (deviceId, stored) => acked.push(...stored.map(([first, last]) => `${deviceId}:${first}-${last}`)),
  });
  t.after(() => ingestion.close());
  ingestion.handlers.results('gw-01', [batch('gw-01', 1), batch('gw-01', 2), batch('gw-01', 3)], []);
  ingestion.handlers.results('gw-02', [batch('gw-02', 1)], []);
  ingestion.handlers.results('gw-03', [batch('gw-03', 1)], []);
  const stored = (deviceId: string) => store.queryResults({ deviceId, limit: 10 }).map((r) => r.seq);

  // Two readers in the same turn, and one whose device has nothing queued.
  const first = ingestion.flushDevicesSoon(['gw-01']);
  const second = ingestion.flushDevicesSoon(['gw-03', 'gw-04']);
  assert.deepEqual(stored('gw-01'), [], 'nothing written before the turn ends');
  await ingestion.flushDevicesSoon(['gw-04']);
  await Promise.all([first, second]);
  assert.deepEqual(stored('gw-01'), [1, 2, 3]);
  assert.deepEqual(stored('gw-03'), [1]);
  assert.deepEqual(stored('gw-02'), [], 'another device waits for its turn');
  assert.equal(ingestion.counters().flushes, 1, 'both readers in one transaction');
  await waitFor(() => acked.length >= 2 || undefined, 3000, 'the acks');
  assert.deepEqual(acked.sort(), ['gw-01:1-3', 'gw-03:1-1']);
});

test('flushDevicesSoon keeps to the turn bound: a larger queue goes in several transactions', async (t) => {
  const store = openStore(join(tempDir(t), 'fleet.db'));
  t.after(() => store.close());
  for (const id of ['gw-01', 'gw-02']) store.insertDevice({ id, profile: 'sim-x86-64', tags: {}, credentialHash: 'h' });
  const ingestion = createIngestion(store, { flushMs: 10_000, maxBatches: 500, fairShare: { maxRowsPerDevice: 2, maxBatchesPerDevice: 2, maxRowsPerTurn: 4 } }, silentLogger, {
    acknowledge: () => undefined,
  });
  t.after(() => ingestion.close());
  ingestion.handlers.results('gw-01', Array.from({ length: 6 }, (_, i) => batch('gw-01', i + 1)), []);
  ingestion.handlers.results('gw-02', Array.from({ length: 3 }, (_, i) => batch('gw-02', i + 1)), []);
  await Promise.all([ingestion.flushDevicesSoon(['gw-01']), ingestion.flushDevicesSoon(['gw-02'])]);
  assert.equal(store.resultCount(), 9);
  // 4 rows, then 2 + 2, then the last 1.
  assert.equal(ingestion.counters().flushes, 3);
});
