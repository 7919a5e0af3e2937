// `module run --debug` and `module test --fuzz --debug`: a fault names the author's file, line and
// function; without --debug (a release build) the message is AssemblyScript's own abort text, file:line:column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../../common/paths.js';
import { runCli } from '../helpers/cli.js';

test('module run names the source line of an abort with --debug, and keeps the release message without', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-debug-fault-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const csv = join(dir, 'negative.csv');
  writeFileSync(csv, 't,value\n1000,-5\n');
  const faulty = fromRoot('test', 'fixtures', 'hostile', 'faulty');
  const debug = await runCli(['module', 'run', faulty, '--input', csv, '--debug']);
  assert.notEqual(debug.code, 0);
  assert.match(debug.stderr, /WF_MODULE_FAULT: .*abort: faulty: negative input at assembly\/index\.ts:11 process/);
  const release = await runCli(['module', 'run', faulty, '--input', csv]);
  // asc builds with the module folder as its base, so even a release abort names the file from there.
  assert.match(release.stderr, /abort: faulty: negative input at assembly\/index\.ts:11:\d+\n/);
});

test('module test --fuzz --json reports the planted trap at its line, with the seed', async () => {
  const run = await runCli(['module', 'test', fromRoot('test', 'fixtures', 'fuzz', 'trap'), '--fuzz', '60', '--seed', '5', '--debug', '--json']);
  assert.equal(run.code, 1);
  const report = JSON.parse(run.stdout) as { seed: number; passed: boolean; examples: { kind: string; at?: { file: string; line: number } }[] };
  assert.equal(report.seed, 5);
  assert.equal(report.passed, false);
  assert.deepEqual(report.examples.find((e) => e.kind === 'trap')?.at && [report.examples[0]!.at!.file, report.examples[0]!.at!.line], ['assembly/index.ts', 8]);
});
