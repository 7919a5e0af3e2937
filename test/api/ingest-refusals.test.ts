/**
 * [WF-P-NACK-1] [WF-P-NACK-2] Ingestion on a real SQLite file: a batch SQLite refuses for itself
 * (here a trigger aborts its rows) costs its turn nothing: the others of the turn are stored and
 * acked, and it alone is refused with reason `store`. Off-schema batches are refused as they come,
 * in acks of their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { silentLogger } from '../../common/logger.js';
import { openStore } from '../../fleet-api/index.js';
import { createIngestion } from '../../fleet-api/ingest.js';
import { PROTOCOL_VERSION, type BatchRefusal, type ResultBatch } from '../../protocol/index.js';
import { tempDir, waitFor } from './helpers/harness.js';

const batch = (seq: number, metric = 'x'): ResultBatch => ({
  v: PROTOCOL_VERSION, deviceId: 'gw-01', seq, module: 'm', version: '1.0.0', deploymentId: 'd',
  input: { source: 's', firstSeq: 0, count: 1, from: 0, to: 1 },
  metrics: [{ name: metric, points: [[seq, seq]] }], events: [], dropped: 0,
});

test('a batch SQLite refuses is refused alone with reason store; the rest of its turn is stored and acked', async (t) => {
  const store = openStore(join(tempDir(t), 'fleet.db'));
  t.after(() => store.close());
  store.insertDevice({ id: 'gw-01', profile: 'sim-x86-64', tags: {}, credentialHash: 'h' });
  store.db.exec("CREATE TRIGGER poison BEFORE INSERT ON results WHEN NEW.metric = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END");
  const acks: { deviceId: string; stored: [number, number][]; refused?: BatchRefusal[] }[] = [];
  const ingestion = createIngestion(store, { flushMs: 10, maxBatches: 500 }, silentLogger, {
    acknowledge: (deviceId, stored, refused) => acks.push({ deviceId, stored, ...(refused ? { refused } : {}) }),
  });
  t.after(() => ingestion.close());

  const offSchema: BatchRefusal = { seq: 9, reason: 'schema', field: 'module', message: "field 'module': bad" };
  ingestion.handlers.results('gw-01', [batch(1), batch(2, 'poison'), batch(3)], [offSchema]);
  await waitFor(() => acks.some((a) => a.refused?.some((r) => r.reason === 'store')) || undefined, 3000, 'the refusal');

  assert.deepEqual(acks.flatMap((a) => a.stored), [[1, 1], [3, 3]], 'the healthy batches of the turn are stored and acked');
  const refused = acks.flatMap((a) => a.refused ?? []);
  assert.deepEqual(refused.map((r) => [r.seq, r.reason]), [[9, 'schema'], [2, 'store']]);
  assert.match(refused[1]!.message, /poisoned row/);
  assert.ok(acks.filter((a) => a.refused).every((a) => a.stored.length === 0), 'refusals travel in acks of their own');
  assert.equal(store.resultCount(), 2);
  assert.equal(ingestion.counters().batchesRefused, 2);
});
