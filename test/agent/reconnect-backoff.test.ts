import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffCeiling, fullJitterDelay, ReconnectBackoff } from '../../device-agent/reconnect-backoff.js';

const bounds = { minMs: 500, maxMs: 30_000 };

test('the window doubles from minMs per failed attempt and stops at maxMs', () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 50].map((attempt) => backoffCeiling(attempt, bounds)),
    [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
  );
});

test('full jitter: the delay is uniform over the whole window, never 0', () => {
  assert.equal(fullJitterDelay(3, bounds, () => 0), 1);
  assert.equal(fullJitterDelay(3, bounds, () => 0.5), 2000);
  assert.equal(fullJitterDelay(3, bounds, () => 0.999999), 3999);
});

test('a schedule widens on each attempt and starts over after a success', () => {
  const backoff = new ReconnectBackoff(bounds, () => 0.5);
  assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [250, 500, 1000]);
  backoff.reset();
  assert.equal(backoff.next(), 250);
});

test('1,000 agents losing the same broker spread their first attempts over the window', () => {
  // Count reconnects landing in each tenth of the first window: with full jitter no tenth gets
  // much more than its share, where a fixed period would put all 1,000 in one instant.
  const buckets = new Array(10).fill(0);
  for (let agent = 0; agent < 1000; agent++) {
    const delay = new ReconnectBackoff(bounds).next();
    assert.ok(delay >= 1 && delay < 500);
    buckets[Math.floor(delay / 50)] += 1;
  }
  assert.ok(Math.max(...buckets) < 200, `no tenth of the window takes a fifth of the fleet: ${buckets}`);
});
