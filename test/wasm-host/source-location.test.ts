// Faults of a debug build name the author's file, line and function, in both isolations (the
// metered one runs a rewritten binary whose offsets differ from the map's); a release build's
// fault reads as before. The source map decoder is checked against hand-encoded VLQ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromRoot } from '../../common/paths.js';
import { isWasmfleetError } from '../../common/errors.js';
import { buildModule } from '../../modules-as/sdk/kit/build-module.js';
import { startMeteredSandbox } from '../../wasm-host/metered-sandbox.js';
import { startSandbox } from '../../wasm-host/module-sandbox.js';
import { SandboxFault, type SandboxFactory } from '../../wasm-host/types.js';
import { WasmSourceMap, decodeVlqSegment } from '../../wasm-host/source-map.js';
import { embeddedSourceMap } from '../../wasm-host/source-locator.js';
import type { BuiltModule } from '../../modules-as/sdk/kit/build-module.js';
import { formatBuildProblem, type BuildProblem } from '../../modules-as/sdk/kit/debug-build.js';
import { mkdtempSync, rmSync, writeFileSync, cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const faultyDir = fromRoot('test', 'fixtures', 'hostile', 'faulty');
// assembly/index.ts of the fixture: line 11 throws (an abort), line 12 is unreachable() (a trap).
const ABORT_LINE = 11;
const TRAP_LINE = 12;

async function faultOf(start: SandboxFactory, built: BuiltModule, first: number): Promise<SandboxFault> {
  const sandbox = await start({ wasm: built.bytes, manifest: built.manifest, config: {}, limits: { memoryPages: 16, cpuMsPerBatch: 200, maxOutputsPerBatch: 100 }, batchCapacity: 8 });
  try {
    await sandbox.process(new Float64Array([1]), new Float64Array([first]));
  } catch (error) {
    assert.ok(error instanceof SandboxFault);
    return error;
  } finally {
    await sandbox.close();
  }
  assert.fail('the batch did not fault');
}

test('VLQ segments decode as the source map spec encodes them', () => {
  assert.deepEqual(decodeVlqSegment('AAAA'), [0, 0, 0, 0]);
  assert.deepEqual(decodeVlqSegment('CADF'), [1, 0, -1, -2]);
  assert.deepEqual(decodeVlqSegment('gB'), [16]);
  assert.deepEqual(decodeVlqSegment('hB'), [-16]);
  assert.equal(decodeVlqSegment('g'), undefined, 'a continuation with nothing after it');
  assert.equal(decodeVlqSegment('A*'), undefined);
  // Offsets 10 (a.ts:1:1), 14 (a.ts:3:5), 20 (b.ts:2:1); deltas across segments.
  const map = WasmSourceMap.parse({ version: 3, sources: ['a.ts', 'b.ts'], mappings: 'UAAA,IAEI,MCDJ' })!;
  assert.equal(map.lookup(9), undefined);
  assert.deepEqual(map.lookup(10), { file: 'a.ts', line: 1, column: 1 });
  assert.deepEqual(map.lookup(19), { file: 'a.ts', line: 3, column: 5 });
  assert.deepEqual(map.lookup(400), { file: 'b.ts', line: 2, column: 1 });
  assert.equal(WasmSourceMap.parse({ version: 3, sources: ['a.ts'], mappings: 'AGAA' }), undefined, 'source index out of range');
});

test('a debug build names the source line and function of a trap and an abort, metered and in a worker', async () => {
  const built = await buildModule(faultyDir, { debug: true });
  assert.ok(built.wasmPath.endsWith('debug.wasm'));
  assert.ok(embeddedSourceMap(built.bytes), 'the map travels inside the binary');
  for (const [isolation, start] of [['metered', startMeteredSandbox], ['worker', startSandbox]] as const) {
    const trap = await faultOf(start, built, 2e6);
    assert.equal(trap.kind, 'trap', isolation);
    assert.deepEqual({ file: trap.at?.file, line: trap.at?.line, function: trap.at?.function }, { file: 'assembly/index.ts', line: TRAP_LINE, function: 'process' }, isolation);
    assert.match(trap.message, new RegExp(`^trap: unreachable .* at assembly/index\\.ts:${TRAP_LINE} process$`));
    const abort = await faultOf(start, built, -1);
    assert.equal(abort.kind, 'abort', isolation);
    assert.equal(abort.message, `abort: faulty: negative input at assembly/index.ts:${ABORT_LINE} process`, isolation);
  }
});

test('a release build keeps the message it always had', async () => {
  const built = await buildModule(faultyDir);
  assert.equal(embeddedSourceMap(built.bytes), undefined);
  const trap = await faultOf(startMeteredSandbox, built, 2e6);
  assert.equal(trap.at, undefined);
  assert.match(trap.message, /^trap: unreachable \(memory \d+\/\d+ pages\)$/);
});

test('a build error is a value with the file, line and column asc pointed at', async (t) => {
  mkdirSync(fromRoot('.tmp'), { recursive: true });
  const dir = mkdtempSync(join(fromRoot('.tmp'), 'broken-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(faultyDir, dir, { recursive: true, filter: (path) => !path.includes('build') });
  writeFileSync(join(dir, 'assembly', 'index.ts'), 'export * from "../../../modules-as/sdk/assembly/exports";\n\nexport function f(): void {\n  nope();\n}\n');
  await assert.rejects(buildModule(dir, { debug: true }), (error: unknown) => {
    assert.ok(isWasmfleetError(error) && error.code === 'WF_MODULE_COMPILE_FAILED');
    assert.deepEqual(error.details['problems'], [{ file: 'assembly/index.ts', line: 4, column: 3, message: "TS2304: Cannot find name 'nope'." }]);
    // What `module dev` prints for it.
    assert.equal(formatBuildProblem((error.details['problems'] as BuildProblem[])[0]!), "assembly/index.ts:4:3 TS2304: Cannot find name 'nope'.");
    return true;
  });
});
