/**
 * Custody's upstream side against an in-memory uplink double (its `send` resolves, rejects or
 * hangs as the test says, and the test plays the API's ResultsAcks in any order): oldest first,
 * per device in seq order, a bounded window, resends after a failed publish, a timeout or a
 * reconnect, refusals counted lost, and segments removed as batches leave.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import type { ResultCustody } from '../../../hub/custody/index.js';
import { batch, openCustody, published, range, resultsPayload, spooledPayload, tempDir, until, type Published } from './helpers.js';

interface Publish extends Published {
  resolve(): void;
  reject(error: Error): void;
}

/** The uplink: every publish is kept; `auto` answers PUBACK at once. */
class Uplink {
  readonly publishes: Publish[] = [];
  auto = true;
  failNext = 0;

  readonly send = (topic: string, payload: Buffer): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const item = { ...published(topic, payload), resolve, reject };
      this.publishes.push(item);
      if (this.failNext > 0) {
        this.failNext -= 1;
        reject(new Error('connection closed'));
      } else if (this.auto) resolve();
    });

  seqs(deviceId?: string): number[] {
    return this.publishes.filter((p) => !deviceId || p.deviceId === deviceId).flatMap((p) => p.seqs);
  }

  /** The API acknowledging everything sent so far, one ack per publish, in the given order. */
  ackAll(custody: ResultCustody, order: 'forward' | 'reverse' = 'forward'): void {
    const list = order === 'forward' ? [...this.publishes] : [...this.publishes].reverse();
    for (const p of list) custody.upstreamAck(p.deviceId, { v: 1, deviceId: p.deviceId, stored: p.seqs.map((s) => [s, s] as [number, number]) });
  }
}

async function fill(custody: ResultCustody, deviceId: string, seqs: number[]): Promise<void> {
  const ack = await custody.receive(deviceId, 'spooled', spooledPayload(deviceId, seqs.map((seq) => batch(deviceId, seq))));
  assert.equal(ack?.stored.reduce((n, [a, b]) => n + b - a + 1, 0), seqs.length);
}

test('oldest first, each device in seq order, within the window; acks in any order let the rest flow', async (t) => {
  const dir = tempDir(t);
  let now = 1_000;
  const custody = await openCustody(t, dir, { now: () => now, forward: { window: 10, maxPublishesInFlight: 4 } });
  await fill(custody, 'gw-b', range(100, 104));
  now += 1;
  await fill(custody, 'gw-a', range(50, 59));
  now += 1;
  // gw-b's lower seqs arrive late (a resend from before a restart): still sent in seq order.
  await fill(custody, 'gw-b', range(90, 99));
  now += 1;
  await custody.receive('gw-a', 'results', resultsPayload('gw-a', 60));

  const uplink = new Uplink();
  custody.startForwarding(uplink.send);
  await until(() => uplink.seqs().length >= 10);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(uplink.seqs().length, 10, 'no more than the window before any ack');
  // gw-b holds the oldest batch (seq 100), so its batches go first, in seq order.
  assert.deepEqual(uplink.publishes[0], { ...uplink.publishes[0], deviceId: 'gw-b', channel: 'spooled', seqs: range(90, 99) });

  while (custody.backlog().batches > 0) {
    const before = uplink.publishes.length;
    uplink.ackAll(custody, 'reverse');
    uplink.publishes.splice(0, before);
    await until(() => uplink.publishes.length > 0 || custody.backlog().batches === 0);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(uplink.seqs().length <= 10);
  }
  assert.equal(custody.counters().forwarded, 26);
  assert.deepEqual(custody.lost(), {});
  await custody.close();
});

test('every batch goes up exactly as held: per device in seq order, payload decodable by the API rules, a lone one on results', async (t) => {
  const dir = tempDir(t);
  const custody = await openCustody(t, dir);
  await custody.receive('gw-a', 'results', resultsPayload('gw-a', 1));
  const uplink = new Uplink();
  custody.startForwarding(uplink.send);
  await until(() => uplink.publishes.length === 1);
  assert.equal(uplink.publishes[0]!.channel, 'results');
  await fill(custody, 'gw-a', range(2, 800));
  await fill(custody, 'gw-a', range(801, 1500));
  uplink.ackAll(custody);
  await until(() => uplink.seqs().length === 1500);
  assert.ok(uplink.publishes.every((p) => p.seqs.length <= 100), 'at most maxBatchesPerPublish (100) batches per SpooledResults');
  assert.deepEqual(uplink.seqs(), range(1, 1500));
  await custody.close();
});

test('a window is spread over the devices: each publish carries at most maxBatchesPerPublish of one device, the next goes to the device now holding the oldest batch', async (t) => {
  const dir = tempDir(t);
  let now = 1_000;
  const custody = await openCustody(t, dir, { now: () => now, forward: { window: 30, maxPublishesInFlight: 8, maxBatchesPerPublish: 10 } });
  // Three devices whose batches arrived interleaved, as a site's do during a cut.
  for (let seq = 1; seq <= 20; seq++) {
    for (const deviceId of ['gw-a', 'gw-b', 'gw-c']) {
      await fill(custody, deviceId, [seq]);
      now += 1;
    }
  }
  const uplink = new Uplink();
  custody.startForwarding(uplink.send);
  await until(() => uplink.seqs().length >= 30);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(
    uplink.publishes.map((p) => [p.deviceId, p.seqs]),
    [
      ['gw-a', range(1, 10)],
      ['gw-b', range(1, 10)],
      ['gw-c', range(1, 10)],
    ],
    'the first window holds every device, not 30 of one',
  );
  uplink.ackAll(custody);
  await until(() => uplink.seqs().length === 60);
  assert.deepEqual(uplink.seqs('gw-b'), range(1, 20));
  await custody.close();
});

test('a failed publish is sent again after retryMs; nothing is lost or skipped', async (t) => {
  const dir = tempDir(t);
  const custody = await openCustody(t, dir, { forward: { retryMs: 20, window: 100 } });
  await fill(custody, 'gw-a', range(1, 40));
  const uplink = new Uplink();
  uplink.failNext = 2;
  custody.startForwarding(uplink.send);
  await until(() => custody.counters().publishFailures === 2 && uplink.publishes.filter((p) => p.seqs.length > 0).length >= 3);
  // The batches the failed publishes carried are in a later one.
  await until(() => new Set(uplink.seqs()).size === 40);
  uplink.ackAll(custody);
  await until(() => custody.backlog().batches === 0);
  assert.ok(custody.counters().resends >= 40);
  await custody.close();
});

test('what is not acknowledged within ackTimeoutMs is sent again; a late ack still settles it once', async (t) => {
  const dir = tempDir(t);
  const custody = await openCustody(t, dir, { forward: { ackTimeoutMs: 60 } });
  await fill(custody, 'gw-a', range(1, 5));
  const uplink = new Uplink();
  custody.startForwarding(uplink.send);
  await until(() => uplink.publishes.length >= 2);
  assert.deepEqual(uplink.publishes[1]!.seqs, range(1, 5));
  assert.ok(custody.counters().resends >= 5);
  custody.upstreamAck('gw-a', { v: 1, deviceId: 'gw-a', stored: [[1, 5]] });
  custody.upstreamAck('gw-a', { v: 1, deviceId: 'gw-a', stored: [[1, 5]] });
  assert.equal(custody.backlog().batches, 0);
  assert.equal(custody.counters().forwarded, 5);
  await custody.close();
});

test('after stopForwarding (uplink lost) and startForwarding, what was in flight is sent again; acked batches are not', async (t) => {
  const dir = tempDir(t);
  const custody = await openCustody(t, dir, { forward: { window: 20 } });
  await fill(custody, 'gw-a', range(1, 30));
  const first = new Uplink();
  first.auto = false; // PUBACKs never come on this link
  custody.startForwarding(first.send);
  await until(() => first.seqs().length === 20);
  custody.upstreamAck('gw-a', { v: 1, deviceId: 'gw-a', stored: [[1, 5]] });
  custody.stopForwarding();
  // An ack arriving while stopped still settles (it came over the old session).
  custody.upstreamAck('gw-a', { v: 1, deviceId: 'gw-a', stored: [[6, 6]] });
  first.publishes.forEach((p) => p.resolve()); // late PUBACKs of the old link change nothing
  const second = new Uplink();
  custody.startForwarding(second.send);
  await until(() => second.seqs().length === 20);
  assert.deepEqual(second.seqs(), range(7, 26));
  second.ackAll(custody);
  await until(() => second.seqs().length === 24);
  assert.deepEqual(second.seqs(), range(7, 30));
  second.ackAll(custody);
  assert.equal(custody.backlog().batches, 0);
  await custody.close();
});

test('an upstream negative ack drops the batch, counts it lost with its reason, and it is never sent again', async (t) => {
  const dir = tempDir(t);
  const custody = await openCustody(t, dir, { forward: { ackTimeoutMs: 50 } });
  await fill(custody, 'gw-a', range(1, 4));
  const uplink = new Uplink();
  custody.startForwarding(uplink.send);
  await until(() => uplink.publishes.length === 1);
  custody.upstreamAck('gw-a', {
    v: 1, deviceId: 'gw-a', stored: [[1, 2]],
    refused: [{ seq: 3, reason: 'store', message: 'SQLITE_CONSTRAINT' }, { seq: 4, reason: 'schema', message: 'newer API' }, { seq: null, reason: 'seq-range', message: 'x' }],
  });
  // A repeated refusal of what already left custody is not counted twice.
  custody.upstreamAck('gw-a', { v: 1, deviceId: 'gw-a', stored: [], refused: [{ seq: 3, reason: 'store', message: 'again' }] });
  assert.deepEqual(custody.lost(), { 'refused:store': 1, 'refused:schema': 1 });
  assert.equal(custody.backlog().batches, 0);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(uplink.publishes.length, 1, 'nothing resent');
  // An ack naming another device than its topic's is ignored.
  await fill(custody, 'gw-a', [5]);
  custody.upstreamAck('gw-a', { v: 1, deviceId: 'gw-b', stored: [[5, 5]] });
  assert.equal(custody.backlog().batches, 1);
  await custody.close();
  const again = await openCustody(t, dir);
  assert.deepEqual(again.lost(), { 'refused:store': 1, 'refused:schema': 1 }, 'losses survive a restart');
  await again.close();
});

test('space on disk comes back as batches leave: emptied segments are removed', async (t) => {
  const dir = tempDir(t);
  // 1 MiB bound → 64 KiB segments.
  const custody = await openCustody(t, dir, { maxBytes: 1024 * 1024, forward: { window: 100_000 } });
  for (let from = 0; from < 2000; from += 200) await fill(custody, 'gw-a', range(from, from + 199));
  const segments = () => readdirSync(dir).filter((name) => name.endsWith('.seg')).length;
  const before = segments();
  assert.ok(before > 3, `several segments (${before})`);
  const uplink = new Uplink();
  custody.startForwarding(uplink.send);
  await until(() => uplink.seqs().length === 2000);
  custody.upstreamAck('gw-a', { v: 1, deviceId: 'gw-a', stored: [[0, 999]] });
  const half = segments();
  assert.ok(half < before && half > 1, `about half the segments left (${half} of ${before})`);
  custody.upstreamAck('gw-a', { v: 1, deviceId: 'gw-a', stored: [[1000, 1999]] });
  assert.ok(segments() <= 1, 'only the segment being appended to may stay');
  assert.deepEqual(custody.backlog(), { batches: 0, bytes: 0, oldestAt: null });
  await custody.close();
  const again = await openCustody(t, dir);
  assert.equal(again.backlog().batches, 0);
  assert.equal(segments(), 0, 'reopening removes a segment nothing is held in');
  await again.close();
});

test('a batch dropped for age while on its way upstream is counted lost, and uncounted when its ack proves it stored', async (t) => {
  const dir = tempDir(t);
  let now = 1_000_000;
  const custody = await openCustody(t, dir, { maxAgeMs: 60_000, now: () => now });
  await fill(custody, 'gw-a', range(1, 4));
  const uplink = new Uplink();
  custody.startForwarding(uplink.send);
  await until(() => uplink.seqs().length === 4);
  now += 61_000;
  await custody.receive('gw-a', 'results', resultsPayload('gw-a', 5));
  assert.deepEqual(custody.lost(), { droppedAge: 4 });
  custody.upstreamAck('gw-a', { v: 1, deviceId: 'gw-a', stored: [[1, 2]] });
  assert.deepEqual(custody.lost(), { droppedAge: 2 });
  custody.upstreamAck('gw-a', { v: 1, deviceId: 'gw-a', stored: [[1, 2]] });
  assert.deepEqual(custody.lost(), { droppedAge: 2 }, 'once only');
  await custody.close();
});

test('a publish whose PUBACK never comes frees its slot after ackTimeoutMs and its batches go again', async (t) => {
  const dir = tempDir(t);
  const custody = await openCustody(t, dir, { forward: { ackTimeoutMs: 50, retryMs: 10, maxPublishesInFlight: 1 } });
  await fill(custody, 'gw-a', range(1, 3));
  const uplink = new Uplink();
  uplink.auto = false;
  custody.startForwarding(uplink.send);
  await until(() => uplink.publishes.length >= 3);
  assert.ok(uplink.publishes.every((p) => p.seqs.join() === '1,2,3'));
  assert.ok(custody.counters().publishFailures >= 2);
  uplink.ackAll(custody);
  assert.equal(custody.backlog().batches, 0);
  await custody.close();
});
