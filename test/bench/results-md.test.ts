/** A partial bench run replaces its suites' rows and its own earlier `Updated:` lines, nothing else. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeResults } from '../../bench/results-md.js';
import type { BenchFigure } from '../../bench/figure.js';

const machine = '2 × CPU, 24 GiB, linux x64, Node v20  ';
const existing = [
  '# Benchmark results',
  '',
  'Command: `npm run bench`  ',
  'Machine: m  ',
  'Date: 2026-01-01T00:00:00.000Z',
  `Updated: \`npm run bench -- a\` at 2026-01-03T00:00:00.000Z (a), ${machine}`,
  `Updated: \`npm run bench -- a b\` at 2026-01-02T00:00:00.000Z (a, b), ${machine}`,
  `Updated: \`npm run bench -- a\` at 2026-01-01T00:00:00.000Z (a), ${machine}`,
  '',
  '| benchmark | subject | baseline | unit | subject value | baseline value | ratio | note |',
  '|---|---|---|---|---|---|---|---|',
  '| a | s | b | ms | 1 | 1 | 1.00 | old |',
  '| b | s | b | ms | 2 | 2 | 1.00 | kept |',
  '',
  '## Notes',
  '',
].join('\n');

test("a run of suite a drops a's earlier Updated lines, keeps the one that also refreshed b, and replaces a's row", () => {
  const figure = { bench: 'a', subject: 's', baseline: 'b', unit: 'ms', subjectValue: 3, baselineValue: 1, ratio: 3, note: 'new' } satisfies BenchFigure;
  const merged = mergeResults(existing, [figure], ['a'], 'npm run bench -- a', []);
  const updated = merged.split('\n').filter((line) => line.startsWith('Updated: '));
  assert.equal(updated.length, 2, merged);
  assert.match(updated[0]!, /\(a\), /);
  assert.doesNotMatch(updated[0]!, /2026-01-0[13]/, 'the new line is first');
  assert.match(updated[1]!, /\(a, b\), /, 'a line that also names a suite not rerun stays');
  assert.match(merged, /\| b \| s \| b \| ms \| 2 \| 2 \| 1\.00 \| kept \|/);
  assert.doesNotMatch(merged, /\| old \|/);
});
