// The module kit refuses what cannot ship: a manifest with a bad field (named), sources that do
// not compile, and binaries that break the ABI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../common/paths.js';
import { isWasmfleetError } from '../../common/errors.js';
import { abiProblem, importedMemory, importedMemoryMinimum } from '../../protocol/abi.js';
import { buildModule } from '../../modules-as/sdk/kit/build-module.js';
import { ensureBuilt, exampleModuleDirs } from '../../modules-as/tools/build-examples.js';

const emaDir = (): string => exampleModuleDirs().find((dir) => dir.endsWith('ema'))!;

/** A scratch module folder inside the repo (.tmp/ is gitignored). */
function scratchModule(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  mkdirSync(fromRoot('.tmp'), { recursive: true });
  const dir = mkdtempSync(join(fromRoot('.tmp'), 'module-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const emaFiles = (): Record<string, string> => ({
  'manifest.json': readFileSync(join(emaDir(), 'manifest.json'), 'utf8'),
  'asconfig.json': readFileSync(join(emaDir(), 'asconfig.json'), 'utf8'),
});

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const str = (s: string): number[] => [...leb(s.length), ...Buffer.from(s)];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];

/** A hand-assembled binary whose only content is one import. */
function importing(module: string, name: string, kind: 'func' | 'memory'): Uint8Array<ArrayBuffer> {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types = kind === 'func' ? section(1, [1, 0x60, 0, 0]) : [];
  const desc = kind === 'func' ? [0x00, 0x00] : [0x02, 0x01, 0x03, 0x10];
  return new Uint8Array([...header, ...types, ...section(2, [1, ...str(module), ...str(name), ...desc])]);
}

test('a manifest with a bad field is refused, naming the field', async (t) => {
  const manifest = JSON.parse(emaFiles()['manifest.json']!);
  for (const [mutate, field] of [
    [(m: Record<string, unknown>) => (m.version = '1.0'), 'version'],
    [(m: Record<string, unknown>) => (m.inputs = []), 'inputs'],
    [(m: Record<string, unknown>) => (m.abi = 3), 'abi'],
    // The schema still accepts ABI 1 (hosts run such binaries), but the SDK only builds ABI 2.
    [(m: Record<string, unknown>) => (m.abi = 1), 'abi'],
    [(m: Record<string, unknown>) => (m.colour = 'blue'), 'colour'],
  ] as const) {
    const bad = structuredClone(manifest);
    mutate(bad);
    const dir = scratchModule(t, { ...emaFiles(), 'manifest.json': JSON.stringify(bad) });
    await assert.rejects(buildModule(dir), (error: Error) => {
      assert.ok(isWasmfleetError(error, 'WF_MODULE_MANIFEST_INVALID'), String(error));
      assert.match(error.message, new RegExp(`'${field}'|${field}`));
      return true;
    });
  }
});

test('a folder without asconfig.json or entry is refused by name', async (t) => {
  const dir = scratchModule(t, { 'manifest.json': emaFiles()['manifest.json']! });
  await assert.rejects(buildModule(dir), (e: Error) => isWasmfleetError(e, 'WF_MODULE_DIR_MISSING') && /asconfig\.json/.test(e.message));
  const withConfig = scratchModule(t, emaFiles());
  await assert.rejects(buildModule(withConfig), (e: Error) => isWasmfleetError(e, 'WF_MODULE_DIR_MISSING') && /index\.ts/.test(e.message));
});

test('asc diagnostics come back in the error', async (t) => {
  const dir = scratchModule(t, { ...emaFiles(), 'assembly/index.ts': 'export function wf_abi(): i32 { return nope; }\n' });
  await assert.rejects(buildModule(dir), (e: Error) => isWasmfleetError(e, 'WF_MODULE_COMPILE_FAILED') && /nope/.test(e.message));
});

test('a module that defines its own memory is refused after the build', async (t) => {
  const config = JSON.parse(emaFiles()['asconfig.json']!);
  config.options.importMemory = false;
  config.options.noExportMemory = false;
  const dir = scratchModule(t, { ...emaFiles(), 'asconfig.json': JSON.stringify(config) });
  // The example imports the SDK by package name, which resolves from any folder.
  const source = readFileSync(join(emaDir(), 'assembly', 'index.ts'), 'utf8');
  mkdirSync(join(dir, 'assembly'));
  writeFileSync(join(dir, 'assembly', 'index.ts'), source);
  await assert.rejects(buildModule(dir), (e: Error) => isWasmfleetError(e, 'WF_MODULE_ABI_REFUSED') && /own memory/.test(e.message));
});

test('the debug target builds and passes the ABI check too', async () => {
  const built = await buildModule(emaDir(), { target: 'debug' });
  assert.match(built.wasmPath, /build[/\\]debug\.wasm$/);
  assert.equal(abiProblem(built.bytes), undefined);
});

test('abiProblem refuses binaries that break the ABI', async () => {
  const { bytes } = await ensureBuilt(emaDir());
  assert.equal(abiProblem(bytes), undefined);
  assert.equal(importedMemoryMinimum(bytes), 1);
  // ABI 2: the SDK's builds import the host's memory as shared, with the largest maximum.
  assert.deepEqual(importedMemory(bytes), { minimum: 1, maximum: 65536, shared: true });

  let seed = 1;
  const random = new Uint8Array(512).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  assert.match(abiProblem(random)!, /not a valid WebAssembly binary/);
  assert.match(abiProblem(bytes.slice(0, Math.floor(bytes.length / 2)))!, /not a valid WebAssembly binary/);
  assert.match(abiProblem(importing('wasi_snapshot_preview1', 'fd_write', 'func'))!, /wasi_snapshot_preview1\.fd_write is outside/);
  assert.match(abiProblem(importing('env', 'memory', 'func'))!, /env\.memory must be a memory/);
  assert.match(abiProblem(importing('env', 'memory', 'memory'))!, /required export wf_abi is missing/);
  assert.equal(importedMemoryMinimum(importing('env', 'memory', 'memory')), 3);
  assert.deepEqual(importedMemory(importing('env', 'memory', 'memory')), { minimum: 3, maximum: 16, shared: false });
});
