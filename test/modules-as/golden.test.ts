/** Unit tests of the golden-case tooling: CSV input, output merging and comparison. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSamplesCsv } from '../../modules-as/sdk/kit/samples-csv.js';
import { compareOutputs } from '../../modules-as/sdk/kit/golden.js';
import { mergeOutputs } from '../../modules-as/sdk/kit/run-local.js';

test('CSV samples: header optional, comments skipped, errors name the line', () => {
  const samples = parseSamplesCsv('t,value\n1000,1.5\n# note\n1100,-2\n');
  assert.deepEqual([...samples.timestamps], [1000, 1100]);
  assert.deepEqual([...samples.values], [1.5, -2]);
  assert.deepEqual([...parseSamplesCsv('5,1\n6,2').values], [1, 2]);
  assert.throws(() => parseSamplesCsv('t,value\n1000,1\n1100,abc\n', 'in.csv'), /in\.csv line 3: value 'abc' is not a number/);
  assert.throws(() => parseSamplesCsv('t,value\n1000\n', 'in.csv'), /line 2: expected two columns/);
  assert.throws(() => parseSamplesCsv('t,value\n1000,1\n900,1\n', 'in.csv'), /line 3: timestamps must not go backwards/);
});

test('batch outputs merge by metric name in order of first appearance', () => {
  const merged = mergeOutputs([
    { metrics: [{ name: 'a', points: [[1, 1]] }], events: [{ name: 'e', t: 1, value: 9 }], dropped: 1 },
    { metrics: [{ name: 'b', points: [[2, 2]] }, { name: 'a', points: [[2, 3]] }], events: [], dropped: 2 },
  ]);
  assert.deepEqual(merged, {
    metrics: [
      { name: 'a', points: [[1, 1], [2, 3]] },
      { name: 'b', points: [[2, 2]] },
    ],
    events: [{ name: 'e', t: 1, value: 9 }],
    dropped: 3,
  });
});

test('comparison: exact names, times and counts; values within 1e-9', () => {
  const expected = { metrics: [{ name: 'a', points: [[1, 1] as [number, number]] }], events: [{ name: 'e', t: 5, value: 2 }], dropped: 0 };
  assert.deepEqual(compareOutputs({ ...expected, metrics: [{ name: 'a', points: [[1, 1 + 1e-12]] }] }, expected), []);
  assert.match(compareOutputs({ ...expected, metrics: [{ name: 'a', points: [[1, 1.001]] }] }, expected)[0]!, /metric a\[0\]/);
  assert.match(compareOutputs({ ...expected, metrics: [{ name: 'a', points: [[2, 1]] }] }, expected)[0]!, /metric a\[0\]/);
  assert.match(compareOutputs({ ...expected, events: [] }, expected)[0]!, /0 events, expected 1/);
  assert.match(compareOutputs({ ...expected, dropped: 4 }, expected)[0]!, /dropped 4, expected 0/);
  assert.match(compareOutputs({ ...expected, metrics: [] }, expected)[0]!, /metrics \[\] != expected \[a\]/);
});
