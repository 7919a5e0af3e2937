/** The settled seq ranges: merged when they touch, never over a gap, bounded by forgetting the oldest. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_RANGES, SettledRanges } from '../../../hub/custody/settled.js';

test('ranges merge when they touch or overlap, in any order', () => {
  const ranges = new SettledRanges();
  ranges.add(10, 19);
  ranges.add(20, 20);
  ranges.add(0, 4);
  ranges.add(5, 9);
  ranges.add(30, 40);
  ranges.add(35, 50);
  assert.deepEqual(ranges.toJSON(), [[0, 20], [30, 50]]);
  assert.ok(ranges.has(0) && ranges.has(20) && ranges.has(45));
  assert.ok(!ranges.has(21) && !ranges.has(29) && !ranges.has(51));
});

test('past the bound the oldest range is forgotten, never merged over a gap (which would acknowledge unstored seqs)', () => {
  const ranges = new SettledRanges();
  for (let i = 0; i <= MAX_RANGES; i++) ranges.add(i * 10, i * 10 + 1);
  const kept = ranges.toJSON();
  assert.equal(kept.length, MAX_RANGES);
  assert.deepEqual(kept[0], [10, 11]);
  for (let i = 1; i <= MAX_RANGES; i++) assert.ok(!ranges.has(i * 10 + 5), 'no gap filled');
  assert.ok(!ranges.has(0), 'forgotten: a resend of seq 0 is stored again, a harmless duplicate upstream');
});
