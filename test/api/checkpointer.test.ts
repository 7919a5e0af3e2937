/** WAL checkpoints on a worker thread (fleet-api/store/checkpointer.ts), on a real SQLite file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../fleet-api/index.js';
import { PROTOCOL_VERSION, type ResultBatch } from '../../protocol/index.js';

const batch = (deviceId: string, seq: number): ResultBatch => ({
  v: PROTOCOL_VERSION, deviceId, seq, module: 'm', version: '1.0.0', deploymentId: 'd',
  input: { source: 's', firstSeq: 0, count: 200, from: 0, to: 200 },
  metrics: [{ name: 'x', points: Array.from({ length: 200 }, (_, i) => [seq * 1000 + i, i] as [number, number]) }],
  events: [], dropped: 0,
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("the worker copies the WAL into the database file before the writer's own checkpoint is due; close removes the WAL", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-checkpointer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'fleet.sqlite');
  const problems: string[] = [];
  const store = openStore(path, { checkpointInBackground: { intervalMs: 10, onProblem: (reason) => problems.push(reason) } });
  let closed = false;
  t.after(() => {
    if (!closed) store.close();
  });
  assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 10_000);
  store.insertDevices([{ id: 'gw-1', profile: 'sim-x86-64', tags: {}, credentialHash: 'x' }]);
  const before = statSync(path).size;
  // 100,000 rows with their indexes and rollups: megabytes that only a checkpoint puts in the database file.
  for (let seq = 0; seq < 500; seq++) store.ingestResultBatches([batch('gw-1', seq)]);
  await until(() => statSync(path).size > before + 4_000_000, 'the checkpointed pages in the database file');
  assert.deepEqual(problems, []);
  assert.equal(store.resultCount(), 500 * 200);
  store.close();
  closed = true;
  assert.equal(existsSync(`${path}-wal`), false, 'the last connection closed removes the WAL');
  const reopened = openStore(path);
  assert.equal(reopened.resultCount(), 500 * 200);
  reopened.close();
});

test('without the option, SQLite checkpoints in the commits as before', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-checkpointer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openStore(join(dir, 'fleet.sqlite'));
  t.after(() => store.close());
  assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 1000);
});

test('back-to-back write transactions: the WAL stays bounded and no write waits for a lock', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-checkpointer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'fleet.sqlite');
  const problems: string[] = [];
  // The worker checkpoints all the time, so it is overtaken by nearly every commit.
  const store = openStore(path, { checkpointInBackground: { intervalMs: 1, writerCheckpointPages: 500, onProblem: (reason) => problems.push(reason) } });
  t.after(() => store.close());
  store.insertDevices([{ id: 'gw-1', profile: 'sim-x86-64', tags: {}, credentialHash: 'x' }]);
  let seq = 0;
  let largestWal = 0;
  for (let turn = 0; turn < 300; turn++) {
    // Each of these throws SQLITE_BUSY if a checkpoint holds the write lock past the busy timeout.
    store.ingestResultBatches(Array.from({ length: 5 }, () => batch('gw-1', seq++)));
    largestWal = Math.max(largestWal, statSync(`${path}-wal`).size);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(store.resultCount(), 1500 * 200);
  // 300 turns write far more than 500 pages; the WAL starts over instead of holding them all.
  assert.ok(largestWal < 4 * 500 * 4096, `WAL grew to ${largestWal} bytes`);
  assert.deepEqual(problems, []);
});
