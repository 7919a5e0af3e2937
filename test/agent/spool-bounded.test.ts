/**
 * The spool's in-memory index stays bounded when acks keep up: settled entries are compacted
 * away, so memory follows what is pending, not how many results the device has ever sent (the
 * soak's agents grew by every result of the last hour before this).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMPACT_AFTER_SETTLED, Spool } from '../../device-agent/spool/spool.js';
import { tempDir } from './helpers.js';

const payloadOf = (seq: number) => Buffer.from(JSON.stringify({ seq, pad: 'x'.repeat(100) }));

test('live results acked one by one leave the index at a few dozen entries, however many went through', async (t) => {
  const spool = new Spool(tempDir(t), { maxBytes: 1 << 24, maxAgeS: 3600 });
  let most = 0;
  for (let seq = 0; seq < 10_000; seq++) {
    spool.append(seq, payloadOf(seq));
    const [sent] = spool.takeUnsent(1, 1 << 20);
    assert.equal(sent!.seq, seq);
    assert.equal(spool.ack([[seq, seq]]), 1);
    most = Math.max(most, spool.indexedEntries);
  }
  assert.equal(spool.pending, 0);
  assert.ok(most <= COMPACT_AFTER_SETTLED + 1, `index held up to ${most} entries for nothing pending`);
  await spool.close();
});

test('with a window of results in flight the index holds about the window, and sends and acks stay in order across compactions', async (t) => {
  const spool = new Spool(tempDir(t), { maxBytes: 1 << 24, maxAgeS: 3600 });
  const window = 100;
  let most = 0;
  let acked = 0;
  for (let seq = 0; seq < 5_000; seq++) {
    spool.append(seq, payloadOf(seq));
    const sent = spool.takeUnsent(10, 1 << 20);
    if (sent.length > 0) assert.equal(sent[0]!.seq, seq);
    // The API acks the oldest once `window` are in flight.
    if (spool.inflight > window) acked += spool.ack([[seq - window, seq - window]]);
    most = Math.max(most, spool.indexedEntries);
  }
  assert.equal(acked, 5_000 - window);
  assert.equal(spool.pending, window);
  assert.ok(most <= 2 * (window + COMPACT_AFTER_SETTLED), `index held up to ${most} entries for ${window} pending`);
  // What is left is exactly the unacked tail, resent in order.
  spool.rewind();
  assert.deepEqual(
    spool.takeUnsent(1000, 1 << 22).map((item) => item.seq),
    Array.from({ length: window }, (_, i) => 5_000 - window + i),
  );
  await spool.close();
});
