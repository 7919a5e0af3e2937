/** `wasmfleet module new|test|run`: a scaffolded module builds and passes its test as generated. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, runCliJson } from '../helpers/cli.js';

test('module new scaffolds a module that builds and passes its golden test; run works on a CSV', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'wf-scaffold-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));

  const created = await runCliJson<{ dir: string }>(['module', 'new', 'pump-health', '--dir', parent]);
  assert.equal(created.dir, join(parent, 'pump-health'));

  const tested = await runCliJson<{ passed: number; failed: number }>(['module', 'test', created.dir]);
  assert.deepEqual([tested.passed, tested.failed], [1, 0]);

  writeFileSync(join(parent, 'in.csv'), 't,value\n0,1\n10,2\n20,3\n30,50\n');
  const output = await runCliJson<{ metrics: { name: string; points: [number, number][] }[]; events: { name: string; t: number }[] }>([
    'module', 'run', created.dir, '--input', join(parent, 'in.csv'), '--config', 'gain=2', '--config', 'limit=10', '--batch-size', '3',
  ]);
  assert.deepEqual(output.metrics.find((m) => m.name === 'scaled')?.points, [[0, 2], [10, 4], [20, 6], [30, 100]]);
  assert.deepEqual(output.metrics.find((m) => m.name === 'max')?.points, [[20, 6], [30, 100]]);
  assert.deepEqual(output.events.map((e) => [e.name, e.t]), [['above', 30]]);

  // A wrong expectation fails, naming the difference; nothing is rewritten without --update.
  const expectedPath = join(created.dir, 'test', 'basic.expected.json');
  const original = readFileSync(expectedPath, 'utf8');
  writeFileSync(expectedPath, original.replace('[1100, 5]', '[1100, 6]'));
  const failing = await runCli(['module', 'test', created.dir]);
  assert.equal(failing.code, 1);
  assert.match(failing.stdout, /FAILED {2}basic\n\s+metric scaled\[1\]: \[1100, 5\], expected \[1100, 6\]/);
  assert.notEqual(readFileSync(expectedPath, 'utf8'), original);
  await runCliJson(['module', 'test', created.dir, '--update']);
  assert.match(readFileSync(expectedPath, 'utf8'), /\[\s*1100,\s*5\s*\]/);
});

test('authoring errors name the problem', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'wf-scaffold-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  const badName = await runCli(['module', 'new', 'Bad_Name', '--dir', parent]);
  assert.match(badName.stderr, /WF_MODULE_NAME_INVALID/);

  const created = await runCliJson<{ dir: string }>(['module', 'new', 'again', '--dir', parent]);
  const exists = await runCli(['module', 'new', 'again', '--dir', parent]);
  assert.match(exists.stderr, /WF_MODULE_EXISTS/);

  writeFileSync(join(parent, 'bad.csv'), 't,value\n0,1\n10,oops\n');
  const badCsv = await runCli(['module', 'run', created.dir, '--input', join(parent, 'bad.csv')]);
  assert.match(badCsv.stderr, /bad\.csv line 3: value 'oops' is not a number/);

  writeFileSync(join(parent, 'good.csv'), 't,value\n0,1\n');
  const badConfig = await runCli(['module', 'run', created.dir, '--input', join(parent, 'good.csv'), '--config', 'nope=1']);
  assert.match(badConfig.stderr, /config\.nope: module again has no param 'nope'/);
});
