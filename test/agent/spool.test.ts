/**
 * The results spool on a real temp directory: order, acks, restart, torn tails, the size and age
 * bounds with exact loss accounting, and a disk that refuses writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Spool, type SpoolOptions } from '../../device-agent/spool/spool.js';
import { tempDir } from './helpers.js';

const payloadOf = (seq: number, size = 200) => Buffer.from(JSON.stringify({ seq, pad: 'x'.repeat(size) }));
const seqsOf = (items: { seq: number; payload: Buffer }[]) => items.map((item) => item.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const limits: SpoolOptions = { maxBytes: 16 * 1024 * 1024, maxAgeS: 3600 };

test('results come back in seq order with their bytes, and an ack forgets exactly what it names', async (t) => {
  const dir = tempDir(t);
  const spool = new Spool(dir, limits);
  for (const seq of range(0, 9)) spool.append(seq, payloadOf(seq));
  const sent = spool.takeUnsent(4, 1 << 20);
  assert.deepEqual(seqsOf(sent), [0, 1, 2, 3]);
  assert.deepEqual(JSON.parse(sent[2]!.payload.toString()).seq, 2);
  assert.equal(spool.inflight, 4);
  // The API stored 0..1 and 3: 2 stays pending and is sent again after a rewind.
  assert.equal(spool.ack([[0, 1], [3, 3]]), 3);
  assert.equal(spool.pending, 7);
  spool.rewind();
  assert.deepEqual(seqsOf(spool.takeUnsent(100, 1 << 20)), [2, ...range(4, 9)]);
  await spool.close();
});

test('a restart resumes every unacked result from disk, and acked ones stay forgotten', async (t) => {
  const dir = tempDir(t);
  const first = new Spool(dir, limits);
  for (const seq of range(100, 199)) first.append(seq, payloadOf(seq));
  first.ack([[100, 149]]);
  await first.close();

  const second = new Spool(dir, limits);
  assert.equal(second.pending, 50);
  const items = second.takeUnsent(1000, 1 << 22);
  assert.deepEqual(seqsOf(items), range(150, 199));
  assert.equal(JSON.parse(items[0]!.payload.toString()).seq, 150);
  assert.equal(second.report().torn, 0);
  await second.close();
});

test('a torn tail record (crash mid-write) is detected by its checksum, skipped, counted, and appends go on', async (t) => {
  const dir = tempDir(t);
  const first = new Spool(dir, limits);
  for (const seq of range(0, 19)) first.append(seq, payloadOf(seq));
  await first.close();
  const [segment] = readdirSync(dir).filter((name) => name.endsWith('.seg'));
  // Half a header and some payload: what a power cut mid-append leaves.
  appendFileSync(join(dir, segment!), Buffer.from([0x40, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3]));

  const second = new Spool(dir, limits);
  assert.equal(second.report().torn, 1);
  assert.equal(second.pending, 20);
  second.append(20, payloadOf(20));
  await second.close();

  const third = new Spool(dir, limits);
  assert.deepEqual(seqsOf(third.takeUnsent(100, 1 << 22)), range(0, 20), 'the record after the cut is readable');
  assert.equal(third.report().torn, 1, 'counted once, and remembered across restarts');
  await third.close();
});

test('past maxBytes the oldest results are dropped; every seq is either still pending or in the dropped ranges', async (t) => {
  const dir = tempDir(t);
  const spool = new Spool(dir, { maxBytes: 65536, maxAgeS: 3600 });
  const total = 1000;
  for (const seq of range(0, total - 1)) spool.append(seq, payloadOf(seq));
  const report = spool.report();
  assert.ok(report.droppedFull > 0, 'something was dropped');
  assert.ok(report.bytes <= 65536, `within maxBytes (${report.bytes})`);
  assert.equal(report.pending + report.droppedFull, total, 'exact accounting');
  const pending = seqsOf(spool.takeUnsent(total, 1 << 24));
  // Oldest first: the dropped ones are exactly the first droppedFull seqs.
  assert.deepEqual(report.droppedRanges, [[0, report.droppedFull - 1]]);
  assert.deepEqual(pending, range(report.droppedFull, total - 1));
  await spool.close();
  const reopened = new Spool(dir, { maxBytes: 65536, maxAgeS: 3600 });
  assert.equal(reopened.report().droppedFull, report.droppedFull, 'loss counters survive a restart');
  await reopened.close();
});

test('results older than maxAgeS are dropped and counted as such', async (t) => {
  let now = 1_000_000;
  const spool = new Spool(tempDir(t), { maxBytes: 1 << 24, maxAgeS: 60, now: () => now });
  for (const seq of range(0, 4)) spool.append(seq, payloadOf(seq));
  now += 30_000;
  for (const seq of range(5, 9)) spool.append(seq, payloadOf(seq));
  now += 31_000;
  assert.deepEqual(seqsOf(spool.takeUnsent(100, 1 << 20)), range(5, 9));
  const report = spool.report();
  assert.equal(report.droppedAge, 5);
  assert.deepEqual(report.droppedRanges, [[0, 4]]);
  await spool.close();
});

test('a dropped result that turns out to be stored (its ack arrives late) is not counted as lost', async (t) => {
  let now = 0;
  const spool = new Spool(tempDir(t), { maxBytes: 1 << 24, maxAgeS: 60, now: () => now });
  spool.append(0, payloadOf(0));
  spool.append(1, payloadOf(1));
  spool.takeUnsent(2, 1 << 20);
  now = 61_000;
  spool.append(2, payloadOf(2));
  assert.equal(spool.report().droppedAge, 2);
  spool.ack([[0, 0]]);
  const report = spool.report();
  assert.equal(report.droppedAge, 1);
  assert.deepEqual(report.droppedRanges, [[1, 1]]);
  await spool.close();
});

test('a disk that refuses writes (segment is /dev/full): clear error, counted, results kept in memory and still sendable', async (t) => {
  const dir = tempDir(t);
  symlinkSync('/dev/full', join(dir, '00000001.seg'));
  const spool = new Spool(dir, limits);
  for (const seq of range(0, 9)) spool.append(seq, payloadOf(seq));
  const report = spool.report();
  assert.equal(report.writeFailures, 10);
  assert.match(report.lastError ?? '', /spool write failed.*ENOSPC/);
  assert.equal(report.pending, 10);
  assert.deepEqual(seqsOf(spool.takeUnsent(100, 1 << 20)), range(0, 9));
  spool.ack([[0, 9]]);
  assert.equal(spool.pending, 0);
  await spool.close();
});

test('a file where the spool directory should be: the spool runs in memory and says why', async (t) => {
  const parent = tempDir(t);
  const dir = join(parent, 'spool');
  writeFileSync(dir, 'not a directory');
  const spool = new Spool(dir, limits);
  spool.append(0, payloadOf(0));
  assert.equal(spool.pending, 1);
  assert.match(spool.report().lastError ?? '', /spool directory unusable/);
  assert.deepEqual(seqsOf(spool.takeUnsent(10, 1 << 20)), [0]);
  await spool.close();
});

test('results already published when their segment must go for space are kept (they may be stored), not counted as dropped', async (t) => {
  const spool = new Spool(tempDir(t), { maxBytes: 65536, maxAgeS: 3600 });
  for (const seq of range(0, 9)) spool.append(seq, payloadOf(seq));
  assert.deepEqual(seqsOf(spool.takeUnsent(10, 1 << 20)), range(0, 9));
  for (const seq of range(10, 999)) spool.append(seq, payloadOf(seq));
  const report = spool.report();
  assert.ok(report.droppedFull > 0);
  assert.equal(report.droppedRanges[0]?.[0], 10, 'the published ones were rescued, the next oldest dropped');
  spool.rewind();
  assert.deepEqual(seqsOf(spool.takeUnsent(10, 1 << 20)), range(0, 9), 'and are sent again');
  assert.equal(report.pending + report.droppedFull, 1000);
  await spool.close();
});
