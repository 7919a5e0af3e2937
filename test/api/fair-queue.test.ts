/** The per-device round-robin of result ingestion: every device with work gets a bounded share per turn. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FairQueue } from '../../fleet-api/fair-queue.js';
import { PROTOCOL_VERSION, type ResultBatch } from '../../protocol/index.js';

const batch = (deviceId: string, seq: number, points = 1): ResultBatch => ({
  v: PROTOCOL_VERSION, deviceId, seq, module: 'm', version: '1.0.0', deploymentId: 'd',
  input: { source: 's', firstSeq: 0, count: 1, from: 0, to: 1 },
  metrics: [{ name: 'x', points: Array.from({ length: points }, (_, i) => [i, i] as [number, number]) }],
  events: [], dropped: 0,
});

test("a device's backlog is served a share per turn; another device's batch is in the very next turn", () => {
  const queue = new FairQueue({ maxRowsPerDevice: 10, maxBatchesPerDevice: 4 });
  queue.push('flood', Array.from({ length: 1000 }, (_, seq) => batch('flood', seq)));
  queue.push('probe', [batch('probe', 0)]);
  const first = queue.takeTurn();
  assert.deepEqual(first.map((b) => `${b.deviceId}:${b.seq}`), ['flood:0', 'flood:1', 'flood:2', 'flood:3', 'probe:0']);
  queue.push('probe', [batch('probe', 1)]);
  assert.deepEqual(queue.takeTurn().filter((b) => b.deviceId === 'probe').map((b) => b.seq), [1]);
  assert.equal(queue.size, 1000 - 8);
  let turns = 0;
  let previous = -1;
  while (queue.size > 0) {
    for (const b of queue.takeTurn()) {
      assert.equal(b.seq, previous + 1 + (previous === -1 ? 8 : 0), 'a device keeps its order');
      previous = b.seq;
    }
    turns += 1;
  }
  assert.equal(turns, Math.ceil(992 / 4));
});

test('rows bound a share, but a batch heavier than the share still goes, alone', () => {
  const queue = new FairQueue({ maxRowsPerDevice: 10, maxBatchesPerDevice: 100 });
  queue.push('heavy', [batch('heavy', 0, 50), batch('heavy', 1, 50)]);
  queue.push('light', Array.from({ length: 20 }, (_, seq) => batch('light', seq, 1)));
  const turn = queue.takeTurn();
  assert.deepEqual(turn.filter((b) => b.deviceId === 'heavy').map((b) => b.seq), [0]);
  assert.equal(turn.filter((b) => b.deviceId === 'light').length, 10);
});

test("one device's share can be taken alone, oldest first, leaving every other device's batches queued", () => {
  const queue = new FairQueue({ maxRowsPerDevice: 10, maxBatchesPerDevice: 3 });
  queue.push('a', Array.from({ length: 5 }, (_, seq) => batch('a', seq)));
  queue.push('b', [batch('b', 0)]);
  assert.equal(queue.sizeOf('a'), 5);
  assert.deepEqual(queue.takeDeviceShare('a').map((b) => b.seq), [0, 1, 2]);
  assert.deepEqual(queue.takeDeviceShare('a').map((b) => b.seq), [3, 4]);
  assert.deepEqual(queue.takeDeviceShare('a'), []);
  assert.equal(queue.sizeOf('a'), 0);
  assert.equal(queue.size, 1);
  assert.deepEqual(queue.takeTurn().map((b) => `${b.deviceId}:${b.seq}`), ['b:0']);
});

test('a turn stops taking shares at its row bound; the devices it left out lead the next turn', () => {
  const queue = new FairQueue({ maxRowsPerDevice: 10, maxBatchesPerDevice: 100, maxRowsPerTurn: 25 });
  for (const id of ['a', 'b', 'c', 'd', 'e']) queue.push(id, Array.from({ length: 20 }, (_, seq) => batch(id, seq)));
  const devicesOf = (turn: ResultBatch[]) => [...new Set(turn.map((b) => b.deviceId))];
  // 10 rows a share: a, b and c reach 30 rows, past the bound of 25, and d waits.
  assert.deepEqual(devicesOf(queue.takeTurn()), ['a', 'b', 'c']);
  assert.deepEqual(devicesOf(queue.takeTurn()), ['d', 'e', 'a']);
  assert.deepEqual(devicesOf(queue.takeTurn()), ['b', 'c', 'd']);
  let taken = 30 * 3;
  const seen = new Map<string, number>();
  while (queue.size > 0) {
    for (const b of queue.takeTurn()) {
      assert.ok(b.seq >= (seen.get(b.deviceId) ?? -1), 'a device keeps its order');
      seen.set(b.deviceId, b.seq);
      taken += 1;
    }
  }
  assert.equal(taken, 100);
});
