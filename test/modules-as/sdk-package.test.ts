// The SDK is the npm package @wasmfleet/sdk (workspace modules-as/sdk): its major version is the
// host ABI it targets, and the library modules import it by package name, as any author does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../../common/paths.js';
import { ABI_VERSION, abiProblem } from '../../protocol/index.js';
import { buildModule } from '../../modules-as/sdk/kit/build-module.js';
import { exampleModuleDirs } from '../../modules-as/tools/build-examples.js';
import { resolveSdkDir } from '../../modules-as/sdk/kit/sdk-location.js';

const sdkPackage = (): { name: string; version: string; wasmfleet: { abi: number } } =>
  JSON.parse(readFileSync(fromRoot('modules-as', 'sdk', 'package.json'), 'utf8'));

test('the SDK package is versioned with the host ABI it targets', () => {
  const pkg = sdkPackage();
  assert.equal(pkg.name, '@wasmfleet/sdk');
  assert.equal(Number(pkg.version.split('.')[0]), ABI_VERSION, 'major version = protocol/abi.ts ABI_VERSION');
  assert.equal(pkg.wasmfleet.abi, ABI_VERSION);
  const exportsSource = readFileSync(fromRoot('modules-as', 'sdk', 'assembly', 'exports.ts'), 'utf8');
  assert.match(exportsSource, new RegExp(`const ABI_VERSION: i32 = ${ABI_VERSION};`));
  const root = JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')) as { workspaces: string[] };
  assert.ok(root.workspaces.includes('modules-as/sdk'));
});

test('the six library modules import the SDK by package name and build', async () => {
  const dirs = exampleModuleDirs();
  assert.equal(dirs.length, 6);
  for (const dir of dirs) {
    const source = readFileSync(join(dir, 'assembly', 'index.ts'), 'utf8');
    assert.match(source, /from "@wasmfleet\/sdk";/, dir);
    assert.match(source, /export \* from "@wasmfleet\/sdk\/exports";/, dir);
    assert.doesNotMatch(source, /sdk\/assembly/, dir);
    // Through the workspace link at the repository root, which points at modules-as/sdk.
    assert.equal(resolveSdkDir(dir), fromRoot('modules-as', 'sdk'));
    const built = await buildModule(dir);
    assert.equal(abiProblem(built.bytes), undefined, dir);
  }
});

test('a module folder with no SDK installed compiles against the SDK the kit ships in', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-sdk-fallback-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ema = exampleModuleDirs().find((d) => d.endsWith('ema'))!;
  for (const name of ['manifest.json', 'asconfig.json', 'assembly']) cpSync(join(ema, name), join(dir, name), { recursive: true });
  assert.equal(resolveSdkDir(dir), fromRoot('modules-as', 'sdk'));
  const built = await buildModule(dir);
  assert.equal(built.manifest.name, 'ema');
  assert.equal(abiProblem(built.bytes), undefined);
});
