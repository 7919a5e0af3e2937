/**
 * Custody's receive side on a real temp directory: the API's rules at the hub (malformed dropped,
 * bad batches refused with their reason and never held), durable acks, duplicates acknowledged
 * without a second copy, the size bound (not acknowledged, the device keeps them), the age bound
 * (counted lost), and reopening with a torn tail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { openResultCustody } from '../../../hub/custody/index.js';
import { batch, capturingLogger, openCustody, published, range, resultsPayload, spooledPayload, tempDir, type Published } from './helpers.js';

const segmentsIn = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.seg'));

/** Every batch held, as a fake upstream receives them (acked as they come, so all flow). */
async function drain(custody: Awaited<ReturnType<typeof openCustody>>): Promise<Published[]> {
  const got: Published[] = [];
  custody.startForwarding(async (topic, payload) => {
    got.push(published(topic, payload));
  });
  const total = custody.backlog().batches;
  const start = Date.now();
  while (got.reduce((n, p) => n + p.seqs.length, 0) < total && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 5));
  custody.stopForwarding();
  return got;
}

test('a good batch is acknowledged once durable and held; reopening the directory finds it', async (t) => {
  const dir = tempDir(t);
  const custody = await openCustody(t, dir);
  const ack = await custody.receive('gw-01', 'results', resultsPayload('gw-01', 7));
  assert.deepEqual(ack, { v: 1, deviceId: 'gw-01', stored: [[7, 7]] });
  const spooled = await custody.receive('gw-01', 'spooled', spooledPayload('gw-01', range(8, 20).map((seq) => batch('gw-01', seq))));
  assert.deepEqual(spooled?.stored, [[8, 20]]);
  assert.equal(custody.backlog().batches, 14);
  assert.ok(custody.backlog().bytes > 0);
  assert.match(custody.backlog().oldestAt ?? '', /^\d{4}-\d\d-\d\dT/);
  await custody.close();

  const again = await openCustody(t, dir);
  assert.equal(again.backlog().batches, 14);
  const sent = await drain(again);
  assert.deepEqual(sent.flatMap((p) => p.seqs), range(7, 20));
  await again.close();
});

test('malformed payloads are dropped whole, counted and logged: no ack', async (t) => {
  const dir = tempDir(t);
  const { logger, lines } = capturingLogger();
  const custody = await openCustody(t, dir, { logger });
  assert.equal(await custody.receive('gw-01', 'results', Buffer.from('{not json')), undefined);
  assert.equal(await custody.receive('gw-01', 'results', Buffer.from('[1,2]')), undefined);
  assert.equal(await custody.receive('gw-01', 'spooled', Buffer.from(JSON.stringify({ v: 1, deviceId: 'gw-01', batches: [] }))), undefined);
  assert.equal(await custody.receive('gw-01', 'results', Buffer.alloc(600 * 1024, 0x20)), undefined, 'over the results cap');
  // Naming another device, in the envelope or in a batch, is an impostor: dropped whole as the API does.
  assert.equal(await custody.receive('gw-01', 'spooled', spooledPayload('gw-02', [batch('gw-02', 1)])), undefined);
  assert.equal(await custody.receive('gw-01', 'spooled', spooledPayload('gw-01', [batch('gw-01', 1), batch('gw-02', 2)])), undefined);
  assert.equal(await custody.receive('gw-01', 'results', resultsPayload('gw-02', 1)), undefined);
  assert.equal(custody.counters().malformed, 7);
  assert.equal(custody.backlog().batches, 0);
  assert.ok(lines.some((line) => line.level === 'warn' && /malformed/.test(line.msg)));
  await custody.close();
});

test('batches the API would refuse get a negative ack with their reason and are never held; their neighbours are stored', async (t) => {
  const dir = tempDir(t);
  const custody = await openCustody(t, dir);
  const offSchema = { ...batch('gw-01', 2), module: 'Not A Name' };
  const nonFinite = { ...batch('gw-01', 3), metrics: [{ name: 'ema', points: [[1, null]] }] };
  const badSeq = { ...batch('gw-01', 4), seq: -1 };
  const ack = await custody.receive('gw-01', 'spooled', spooledPayload('gw-01', [batch('gw-01', 1), offSchema, nonFinite, badSeq, batch('gw-01', 5)]));
  assert.deepEqual(ack?.stored, [[1, 1], [5, 5]]);
  assert.deepEqual(
    ack?.refused?.map((r) => [r.seq, r.reason, r.field]),
    [[2, 'schema', 'module'], [3, 'non-finite', 'metrics/0/points/0/1'], [null, 'seq-range', 'seq']],
  );
  assert.equal(custody.backlog().batches, 2);
  assert.equal(custody.counters().refusedAtIntake, 3);
  assert.deepEqual(custody.lost(), {}, 'never in custody, so not a custody loss (the device counts its refusals)');
  // A lone batch on `results` that fails is answered the same way.
  const lone = await custody.receive('gw-01', 'results', Buffer.from(JSON.stringify({ ...batch('gw-01', 9), dropped: -1 })));
  assert.deepEqual(lone, { v: 1, deviceId: 'gw-01', stored: [], refused: [{ seq: 9, reason: 'schema', field: 'dropped', message: lone!.refused![0]!.message }] });
  await custody.close();
});

test('a batch held, or already forwarded and acknowledged upstream, is acknowledged again without a second copy', async (t) => {
  const dir = tempDir(t);
  const custody = await openCustody(t, dir);
  await custody.receive('gw-01', 'spooled', spooledPayload('gw-01', range(1, 5).map((seq) => batch('gw-01', seq))));
  const bytes = custody.backlog().bytes;
  // Held: the same seqs again, concurrently with a first copy still waiting for its fdatasync too.
  const [a, b] = await Promise.all([
    custody.receive('gw-01', 'spooled', spooledPayload('gw-01', range(1, 7).map((seq) => batch('gw-01', seq)))),
    custody.receive('gw-01', 'results', resultsPayload('gw-01', 7)),
  ]);
  assert.deepEqual(a?.stored, [[1, 7]]);
  assert.deepEqual(b?.stored, [[7, 7]]);
  assert.equal(custody.backlog().batches, 7);
  assert.ok(custody.backlog().bytes < bytes * 2);
  // Forwarded and acked upstream: gone from custody, still acknowledged on a resend, not stored again.
  custody.upstreamAck('gw-01', { v: 1, deviceId: 'gw-01', stored: [[1, 7]] });
  assert.equal(custody.backlog().batches, 0);
  const resend = await custody.receive('gw-01', 'results', resultsPayload('gw-01', 3));
  assert.deepEqual(resend?.stored, [[3, 3]]);
  assert.equal(custody.backlog().batches, 0);
  assert.equal(custody.counters().duplicates, 5 + 1 + 1);
  await custody.close();

  // ... and after a restart too (state.json).
  const again = await openCustody(t, dir);
  assert.deepEqual((await again.receive('gw-01', 'results', resultsPayload('gw-01', 5)))?.stored, [[5, 5]]);
  assert.equal(again.backlog().batches, 0);
  // Another device's seq 5 is its own.
  assert.deepEqual((await again.receive('gw-02', 'results', resultsPayload('gw-02', 5)))?.stored, [[5, 5]]);
  assert.equal(again.backlog().batches, 1);
  await again.close();
});

test('full: what does not fit is neither stored nor acknowledged (the device keeps it); room comes back as batches leave', async (t) => {
  const dir = tempDir(t);
  const { logger, lines } = capturingLogger();
  const custody = await openCustody(t, dir, { maxBytes: 1024 * 1024, logger });
  const big = (seq: number) => batch('gw-01', seq, 2000); // ~45 KB each
  assert.deepEqual((await custody.receive('gw-01', 'spooled', spooledPayload('gw-01', range(0, 11).map(big))))?.stored, [[0, 11]]);
  const ack = await custody.receive('gw-01', 'spooled', spooledPayload('gw-01', range(12, 23).map(big)));
  const stored = ack!.stored;
  assert.equal(stored.length, 1);
  const [first, last] = stored[0]!;
  assert.equal(first, 12);
  assert.ok(last < 23, `some must not fit (stored up to ${last})`);
  assert.equal(custody.counters().deferredFull, 23 - last);
  assert.ok(lines.some((line) => /custody full/.test(line.msg)));
  assert.equal(await custody.receive('gw-01', 'results', Buffer.from(JSON.stringify(big(last + 1)))), undefined, 'nothing to acknowledge');
  // While full, payloads are not even read (agents resend whole windows); a duplicate waits too.
  assert.equal(await custody.receive('gw-01', 'results', Buffer.from(JSON.stringify(big(0)))), undefined);
  assert.equal(custody.counters().skippedFull, 2);
  assert.deepEqual(custody.lost(), {}, 'nothing lost at the hub: the device still has them');
  // Batches leave custody upstream; their segments go, and the rest fits.
  custody.upstreamAck('gw-01', { v: 1, deviceId: 'gw-01', stored: [[0, last]] });
  const rest = await custody.receive('gw-01', 'spooled', spooledPayload('gw-01', range(last + 1, 23).map(big)));
  assert.deepEqual(rest?.stored, [[last + 1, 23]]);
  await custody.close();
  const onDisk = segmentsIn(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
  assert.ok(onDisk <= 1024 * 1024, `disk stays within maxBytes (${onDisk})`);
});

test('batches held longer than maxAgeMs are dropped and counted lost (droppedAge), also across a restart', async (t) => {
  const dir = tempDir(t);
  let now = 1_000_000;
  const custody = await openCustody(t, dir, { maxAgeMs: 60_000, now: () => now });
  await custody.receive('gw-01', 'spooled', spooledPayload('gw-01', range(1, 3).map((seq) => batch('gw-01', seq))));
  now += 30_000;
  await custody.receive('gw-02', 'results', resultsPayload('gw-02', 1));
  now += 40_000;
  await custody.receive('gw-02', 'results', resultsPayload('gw-02', 2));
  assert.deepEqual(custody.lost(), { droppedAge: 3 });
  assert.equal(custody.backlog().batches, 2);
  assert.equal(custody.backlog().oldestAt, new Date(1_030_000).toISOString());
  // A resend of a dropped seq is acknowledged, not stored again: it was counted once already.
  assert.deepEqual((await custody.receive('gw-01', 'results', resultsPayload('gw-01', 2)))?.stored, [[2, 2]]);
  await custody.close();

  now += 30_000;
  const again = await openCustody(t, dir, { maxAgeMs: 60_000, now: () => now });
  assert.deepEqual(again.lost(), { droppedAge: 4 }, 'cumulative across restarts');
  assert.equal(again.backlog().batches, 1);
  await again.close();
});

test('a torn last write is detected by its CRC and cut off; every earlier record survives', async (t) => {
  const dir = tempDir(t);
  const custody = await openCustody(t, dir);
  for (const seq of range(1, 20)) await custody.receive('gw-01', 'results', resultsPayload('gw-01', seq));
  await custody.close();
  const [segment] = segmentsIn(dir);
  const path = join(dir, segment!);
  const size = statSync(path).size;
  // Half a record's header and body, as a crash mid-write leaves it.
  appendFileSync(path, Buffer.from([200, 1, 0, 0, 9, 9, 9, 9, 1, 2, 3]));
  const { logger, lines } = capturingLogger();
  const again = await openCustody(t, dir, { logger });
  assert.equal(again.counters().tornTails, 1);
  assert.equal(statSync(path).size, size, 'cut back to the last whole record');
  assert.ok(lines.some((line) => /torn/.test(line.msg)));
  assert.deepEqual((await drain(again)).flatMap((p) => p.seqs), range(1, 20));
  // Appends go on cleanly after the cut.
  assert.deepEqual((await again.receive('gw-01', 'results', resultsPayload('gw-01', 21)))?.stored, [[21, 21]]);
  await again.close();
  const third = await openCustody(t, dir);
  assert.equal(third.backlog().batches, 21);
  assert.equal(third.counters().tornTails, 0);
  await third.close();
});

test('a flipped byte in the middle of a segment ends reading there: the records before it survive', async (t) => {
  const dir = tempDir(t);
  const custody = await openCustody(t, dir);
  for (const seq of range(1, 10)) await custody.receive('gw-01', 'results', resultsPayload('gw-01', seq));
  await custody.close();
  const path = join(dir, segmentsIn(dir)[0]!);
  const { readFileSync, writeFileSync } = await import('node:fs');
  const bytes = readFileSync(path);
  const recordSize = bytes.byteLength / 10;
  const at = Math.floor(recordSize * 6.5);
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(path, bytes);
  const again = await openCustody(t, dir);
  assert.equal(again.backlog().batches, 6);
  assert.deepEqual((await drain(again)).flatMap((p) => p.seqs), range(1, 6));
  await again.close();
});

test('options are checked when custody opens', async (t) => {
  const dir = tempDir(t);
  const logger = capturingLogger().logger;
  await assert.rejects(openResultCustody({ dir, maxBytes: 1000, maxAgeMs: 1000, logger }), /maxBytes/);
  await assert.rejects(openResultCustody({ dir, maxBytes: 2 * 1024 * 1024, maxAgeMs: 0, logger }), /maxAgeMs/);
});

test('a write the disk refuses is not acknowledged (the device keeps the batch); custody writes on in a new segment', async (t) => {
  const dir = tempDir(t);
  const { logger, lines } = capturingLogger();
  const custody = await openCustody(t, dir, { logger });
  // The next segment custody creates is a disk that is always full.
  symlinkSync('/dev/full', join(dir, '00000001.seg'));
  assert.equal(await custody.receive('gw-01', 'results', resultsPayload('gw-01', 1)), undefined);
  assert.equal(custody.counters().writeFailures, 1);
  assert.equal(custody.backlog().batches, 0);
  assert.ok(lines.some((line) => line.level === 'error' && /write failed/.test(line.msg)));
  assert.deepEqual((await custody.receive('gw-01', 'results', resultsPayload('gw-01', 1)))?.stored, [[1, 1]]);
  assert.equal(custody.backlog().batches, 1);
  assert.deepEqual(custody.lost(), {});
  await custody.close();
});
