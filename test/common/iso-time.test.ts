import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoTime } from '../../common/iso-time.js';

test('isoTime writes what Date.prototype.toISOString writes', () => {
  const edges = [0, 1, -1, 999, 86_399_999, 951_782_400_000 /* 2000-02-29 */, 4_102_444_799_999, 253_402_300_799_999 /* 9999-12-31 */, 253_402_300_800_000, -62_167_219_200_001, 8.64e15, -8.64e15];
  const now = Date.now();
  const random = Array.from({ length: 2000 }, (_, i) => Math.floor((i % 2 ? now : 4e12) * Math.random()));
  for (const ms of [...edges, now, ...random]) assert.equal(isoTime(ms), new Date(ms).toISOString(), `at ${ms}`);
  assert.match(isoTime(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('isoTime refuses what toISOString refuses', () => {
  assert.throws(() => isoTime(Number.NaN), RangeError);
  assert.throws(() => new Date(Number.NaN).toISOString(), RangeError);
});
