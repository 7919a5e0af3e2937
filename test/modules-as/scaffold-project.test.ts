// `wasmfleet module new` makes a standalone project: copied to a temp dir with no wasmfleet
// checkout above it, `npm install && npm test` passes with only its own package.json (one real
// install), an editor's TypeScript type-checks it, a broken golden case or source fails `npm test`
// / `npm run build` naming the problem, and `wasmfleet module publish .` in it uploads its build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fromRoot } from '../../common/paths.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { npmInstall, sh } from '../helpers/npm.js';
import { startTestPlatform } from '../helpers/platform.js';

function ancestors(dir: string): string[] {
  const found: string[] = [];
  for (let at = dirname(dir); ; at = dirname(at)) {
    found.push(at);
    if (dirname(at) === at) return found;
  }
}

test('a scaffolded project builds, tests and publishes with only its own package.json', { timeout: 600_000 }, async (t) => {
  const made = mkdtempSync(join(tmpdir(), 'wf-new-'));
  const elsewhere = mkdtempSync(join(tmpdir(), 'wf-copied-'));
  t.after(() => {
    rmSync(made, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  });
  const created = await runCliJson<{ dir: string; sdk: string }>(['module', 'new', 'pump-health', '--dir', made]);
  assert.match(created.sdk, /vendor[/\\]wasmfleet-sdk-2\.\d+\.\d+\.tgz$/);
  for (const file of ['package.json', 'asconfig.json', 'assembly/tsconfig.json', 'assembly/index.ts', '.gitignore', 'manifest.json', 'test/basic.csv', 'test/basic.expected.json', 'README.md']) {
    assert.ok(existsSync(join(created.dir, file)), file);
  }

  // Copied away from where it was made: nothing above it is a node project or a wasmfleet checkout.
  const project = join(elsewhere, 'pump-health');
  cpSync(created.dir, project, { recursive: true });
  rmSync(created.dir, { recursive: true, force: true });
  for (const above of ancestors(project)) {
    assert.ok(!existsSync(join(above, 'package.json')) && !existsSync(join(above, 'node_modules')), `${above} must not hold a node project`);
  }
  const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; scripts: Record<string, string> };
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), ['@wasmfleet/sdk', 'assemblyscript']);
  assert.match(pkg.dependencies['@wasmfleet/sdk']!, /^file:vendor\/wasmfleet-sdk-.+\.tgz$/);
  assert.deepEqual(Object.keys(pkg.scripts).sort(), ['build', 'run', 'test']);
  assert.doesNotMatch(readFileSync(join(project, 'assembly', 'index.ts'), 'utf8'), /\.\.\//, 'no relative import out of the project');

  await npmInstall(project);
  const tested = await sh('npm test', project);
  assert.equal(tested.code, 0, tested.stderr + tested.stdout);
  assert.match(tested.stdout, /ok {6}basic\n1 passed, 0 failed/);

  // The kit that ran is the project's installed one, and the build is the project's own.
  const built = await sh('npm run --silent build -- --json', project);
  assert.equal(built.code, 0, built.stderr);
  const summary = JSON.parse(built.stdout) as { name: string; wasm: string };
  assert.equal(summary.wasm, join(project, 'build', 'release.wasm'));
  const ran = await sh('npm run --silent run -- --config gain=2 --json', project);
  assert.equal(ran.code, 0, ran.stderr);
  assert.deepEqual((JSON.parse(ran.stdout) as { events: { name: string; t: number }[] }).events, []);

  // An editor's TypeScript, with AssemblyScript's std config, type-checks the module and the SDK.
  const tsc = await sh(`"${process.execPath}" "${fromRoot('node_modules', 'typescript', 'bin', 'tsc')}" -p assembly/tsconfig.json --noEmit`, project);
  assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);

  // npm test can fail: a wrong expectation names the difference.
  const expectedPath = join(project, 'test', 'basic.expected.json');
  const expected = readFileSync(expectedPath, 'utf8');
  writeFileSync(expectedPath, expected.replace('[1100, 5]', '[1100, 6]'));
  const failing = await sh('npm test', project);
  assert.notEqual(failing.code, 0);
  assert.match(failing.stdout, /FAILED {2}basic\n\s+metric scaled\[1\]: \[1100, 5\], expected \[1100, 6\]/);
  writeFileSync(expectedPath, expected);
  // ... and a compile error names the project's file and line.
  const sourcePath = join(project, 'assembly', 'index.ts');
  const source = readFileSync(sourcePath, 'utf8');
  writeFileSync(sourcePath, source.replace('const n = batch.length;', 'const n: i32 = nope;'));
  const broken = await sh('npm run build', project);
  assert.notEqual(broken.code, 0);
  assert.match(broken.stderr, /WF_MODULE_COMPILE_FAILED[\s\S]*nope[\s\S]*assembly\/index\.ts\(\d+,\d+\)/);
  writeFileSync(sourcePath, source);
  assert.equal((await sh('npm run build', project)).code, 0);

  // `wasmfleet module publish .`, run in the project as its README says, uploads its build/release.wasm as it is.
  const { env } = await startTestPlatform(t, 'scaffold-publish');
  const wasm = readFileSync(join(project, 'build', 'release.wasm'));
  const published = await runCliJson<{ modules: { name: string; version: string; sha256: string }[] }>(['module', 'publish', '.'], env, project);
  assert.deepEqual(published.modules.map((m) => `${m.name}@${m.version}`), ['pump-health@0.1.0']);
  assert.equal(published.modules[0]!.sha256, createHash('sha256').update(wasm).digest('hex'));
  const listed = await runCli(['module', 'show', 'pump-health@0.1.0', '--json'], env);
  assert.equal(listed.code, 0, listed.stderr);
});
