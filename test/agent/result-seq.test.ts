/**
 * Result numbers are reserved ahead, off the event loop, and a reservation on disk never goes down:
 * whatever take() hands out is below what a restart reads, whichever reservation (background or
 * synchronous) got to the disk first.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ResultSeq, SEQ_BLOCK } from '../../device-agent/result-seq.js';
import { tempDir } from './helpers.js';

const reservedIn = (dir: string): number => (JSON.parse(readFileSync(join(dir, 'result-seq.json'), 'utf8')) as { reservedUpTo: number }).reservedUpTo;

test('reserved ahead at start, the first number is durable before it is taken', async (t) => {
  const dir = tempDir(t);
  const seq = new ResultSeq(dir);
  seq.reserveAhead();
  await seq.idle();
  assert.equal(reservedIn(dir), SEQ_BLOCK, 'the block is on disk before any take()');
  assert.equal(seq.take(), 0);
  assert.equal(reservedIn(dir), SEQ_BLOCK, 'take() did not write');
  assert.deepEqual(readdirSync(dir), ['result-seq.json'], 'no temporary file left');
});

test('once half a block is used, the next is reserved in the background', async (t) => {
  const dir = tempDir(t);
  const seq = new ResultSeq(dir);
  seq.reserveAhead();
  await seq.idle();
  for (let i = 0; i <= SEQ_BLOCK / 2; i++) seq.take();
  await seq.idle();
  assert.equal(reservedIn(dir), 2 * SEQ_BLOCK);
  // Past the first block without a synchronous reservation: the file stays where the background put it.
  for (let i = SEQ_BLOCK / 2 + 1; i < SEQ_BLOCK + 10; i++) assert.equal(seq.take(), i);
  await seq.idle();
  assert.ok(reservedIn(dir) >= SEQ_BLOCK + 10 + SEQ_BLOCK / 2);
});

test('a take() before the background reservation lands reserves at once, and the later one never lowers it', async (t) => {
  const dir = tempDir(t);
  const seq = new ResultSeq(dir);
  seq.reserveAhead();
  const taken = [seq.take(), seq.take()];
  assert.deepEqual(taken, [0, 1]);
  assert.equal(reservedIn(dir), SEQ_BLOCK, 'reserved synchronously, on disk before 0 was handed out');
  await seq.idle();
  assert.ok(reservedIn(dir) >= SEQ_BLOCK, 'the background reservation did not go below it');
  const afterCrash = new ResultSeq(dir);
  assert.ok(afterCrash.take() >= SEQ_BLOCK, 'a restart continues above every number handed out');
  await afterCrash.idle();
  assert.deepEqual(readdirSync(dir), ['result-seq.json']);
});

test('temporary files of a background reservation a crash interrupted are removed at start', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'result-seq.json'), JSON.stringify({ reservedUpTo: 30_000 }) + '\n');
  writeFileSync(join(dir, 'result-seq.json.0a1b2c3d.ahead'), '{"reservedUpTo":40000}\n');
  const seq = new ResultSeq(dir);
  assert.equal(seq.peek(), 30_000);
  assert.deepEqual(readdirSync(dir), ['result-seq.json']);
});
