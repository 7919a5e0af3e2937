// `module test --fuzz`: finds a planted NaN (from finite input), a planted trap (an empty batch),
// a planted budget overrun (a one-sample batch) and a planted undeclared metric, names the
// source line in a debug build, reproduces from its seed, and passes the six library modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromRoot } from '../../common/paths.js';
import { buildModule } from '../../modules-as/sdk/kit/build-module.js';
import { ensureBuilt, exampleModuleDirs } from '../../modules-as/tools/build-examples.js';
import { fuzzModule } from '../../modules-as/sdk/kit/fuzz.js';

const SEED = 20261205;

test('a planted NaN output is found, with the seed that reproduces it', async () => {
  const built = await buildModule(fromRoot('test', 'fixtures', 'fuzz', 'nan'));
  const report = await fuzzModule(built, { batches: 200, seed: SEED });
  assert.equal(report.passed, false);
  assert.equal(report.seed, SEED);
  assert.equal(report.examples[0]?.kind, 'non-finite');
  assert.ok((report.counts['non-finite'] ?? 0) > 0);
  assert.deepEqual(await fuzzModule(built, { batches: 200, seed: SEED }), report, 'the same seed gives the same report');
});

test('a planted trap is found, at its source line in a debug build', async () => {
  const built = await buildModule(fromRoot('test', 'fixtures', 'fuzz', 'trap'), { debug: true });
  const report = await fuzzModule(built, { batches: 200, seed: SEED });
  assert.equal(report.passed, false);
  const trap = report.examples.find((f) => f.kind === 'trap');
  assert.ok(trap, JSON.stringify(report));
  assert.equal(trap.samples, 0, 'the empty batch is the one that traps');
  assert.deepEqual([trap.at?.file, trap.at?.line, trap.at?.function], ['assembly/index.ts', 8, 'process']);
});

test('a planted budget overrun is found as a timeout, with the seed', async () => {
  const built = await buildModule(fromRoot('test', 'fixtures', 'fuzz', 'overrun'));
  const report = await fuzzModule(built, { batches: 120, seed: SEED });
  assert.equal(report.passed, false);
  assert.equal(report.seed, SEED);
  const overrun = report.examples.find((f) => f.kind === 'timeout');
  assert.ok(overrun, JSON.stringify(report));
  assert.equal(overrun.samples, 1, 'the one-sample batch is the one that spins');
  assert.match(overrun.message, /CPU budget of 200 ms/, "the sim-x86-64 profile's budget");
  assert.deepEqual(Object.keys(report.counts), ['timeout'], 'nothing else is wrong with it');
});

test('a planted undeclared metric is found, naming the metric and, in a debug build, its line', async () => {
  const built = await buildModule(fromRoot('test', 'fixtures', 'fuzz', 'undeclared'), { debug: true });
  const report = await fuzzModule(built, { batches: 20, seed: SEED });
  assert.equal(report.passed, false);
  // The host refuses the declaration when the module starts, so no batch ever runs with it.
  const [finding] = report.examples;
  assert.equal(report.examples.length, 1, JSON.stringify(report));
  assert.equal(finding?.batch, 0);
  assert.deepEqual(report.counts, { invalid: 1 }, 'a module that cannot start is reported once, not once per batch');
  assert.match(finding!.message, /metric 'peak' is not declared in manifest fuzz-undeclared/);
  assert.deepEqual([finding?.at?.file, finding?.at?.line], ['assembly/index.ts', 6]);
});

test('the six library modules pass', async () => {
  const dirs = exampleModuleDirs();
  assert.equal(dirs.length, 6);
  for (const dir of dirs) {
    const report = await fuzzModule(await ensureBuilt(dir), { batches: 300, seed: SEED });
    assert.ok(report.passed, `${dir}: ${JSON.stringify(report.examples)}`);
  }
});
