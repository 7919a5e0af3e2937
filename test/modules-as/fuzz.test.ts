// `module test --fuzz`: finds a planted NaN (from finite input) and a planted trap (an empty
// batch), names the trap's source line in a debug build, reproduces from its seed, and passes
// the six library modules.
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

test('the six library modules pass', async () => {
  const dirs = exampleModuleDirs();
  assert.equal(dirs.length, 6);
  for (const dir of dirs) {
    const report = await fuzzModule(await ensureBuilt(dir), { batches: 300, seed: SEED });
    assert.ok(report.passed, `${dir}: ${JSON.stringify(report.examples)}`);
  }
});
