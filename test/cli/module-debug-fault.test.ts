// `module run --debug`, `module test --debug` and `module test --fuzz --debug`, and the project
// kit's `wasmfleet-module test|run --debug` (what `npm test` / `npm run run` call): a fault names
// the author's file, line and function; without --debug (a release build) the message is
// AssemblyScript's own abort text, file:line:column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../../common/paths.js';
import { runCli } from '../helpers/cli.js';

/**
 * The faulty fixture as an author's project outside the checkout (the SDK by package name,
 * resolved to the kit's own), with a golden case whose first sample is negative: it aborts.
 */
function faultyProject(dir: string): string {
  const project = join(dir, 'faulty');
  const fixture = fromRoot('test', 'fixtures', 'hostile', 'faulty');
  for (const name of ['manifest.json', 'asconfig.json', 'assembly']) cpSync(join(fixture, name), join(project, name), { recursive: true });
  const source = join(project, 'assembly', 'index.ts');
  writeFileSync(source, readFileSync(source, 'utf8').replace(/"[./]+modules-as\/sdk\/assembly"/, '"@wasmfleet/sdk"').replace(/"[./]+modules-as\/sdk\/assembly\/exports"/, '"@wasmfleet/sdk/exports"'));
  mkdirSync(join(project, 'test'));
  writeFileSync(join(project, 'test', 'negative.csv'), 't,value\n1000,-5\n');
  writeFileSync(join(project, 'test', 'negative.expected.json'), JSON.stringify({ config: {}, batchSize: 16, output: { metrics: [], events: [], dropped: 0 } }));
  return project;
}

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

test('module test --debug names the line of a golden case that aborts; the release build keeps its message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-debug-golden-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const project = faultyProject(dir);
  const debug = await runCli(['module', 'test', project, '--debug']);
  assert.notEqual(debug.code, 0);
  assert.match(debug.stderr, /WF_MODULE_FAULT: .*abort: faulty: negative input at assembly\/index\.ts:11 process/);
  const release = await runCli(['module', 'test', project]);
  assert.notEqual(release.code, 0);
  assert.match(release.stderr, /abort: faulty: negative input at assembly\/index\.ts:11:\d+\n/);
});

test("the project kit (npm test, npm run run) names the line with --debug, and keeps the release message without", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-debug-kit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const project = faultyProject(dir);
  const kit = (...args: string[]) => spawnSync(process.execPath, [fromRoot('dist', 'modules-as', 'sdk', 'kit', 'main.js'), ...args], { cwd: project, encoding: 'utf8' });
  const tested = kit('test', '--debug');
  assert.equal(tested.status, 1, tested.stdout + tested.stderr);
  assert.match(tested.stderr, /WF_MODULE_FAULT: .*abort: faulty: negative input at assembly\/index\.ts:11 process/);
  const ran = kit('run', '.', '--input', 'test/negative.csv', '--debug', '--json');
  assert.equal(ran.status, 1);
  const error = (JSON.parse(ran.stdout) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, 'WF_MODULE_FAULT');
  assert.match(error.message, /at assembly\/index\.ts:11 process/);
  const release = kit('test');
  assert.equal(release.status, 1);
  assert.match(release.stderr, /abort: faulty: negative input at assembly\/index\.ts:11:\d+\n/);
  assert.doesNotMatch(release.stderr, /:11 process/);

  // A trap (unreachable() on a sample above 1e6) names its line in a debug build only.
  writeFileSync(join(project, 'huge.csv'), 't,value\n1000,5000000\n');
  const trapped = kit('run', '.', '--input', 'huge.csv', '--debug');
  assert.equal(trapped.status, 1);
  assert.match(trapped.stderr, /WF_MODULE_FAULT: .*trap: unreachable .*at assembly\/index\.ts:12 process/);
  const trappedRelease = kit('run', '.', '--input', 'huge.csv');
  assert.equal(trappedRelease.status, 1);
  assert.match(trappedRelease.stderr, /trap: unreachable \(memory \d+\/\d+ pages\)/);
  assert.doesNotMatch(trappedRelease.stderr, /assembly\/index\.ts/, 'a release build has no map: today\'s message');
});
