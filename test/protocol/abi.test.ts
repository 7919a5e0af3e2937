/**
 * abiProblem reads a binary's imports and exports from the binary (protocol/wasm-interface.ts)
 * after a WebAssembly.validate, instead of compiling it; its verdict must be, word for word, the
 * one a compile gave (WebAssembly.Module.imports/exports through compiledAbiProblem, and 'not a
 * valid WebAssembly binary' for a CompileError), for good binaries, binaries that break the ABI
 * and binaries that are not WebAssembly at all.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromRoot } from '../../common/paths.js';
import { abiProblem, compiledAbiProblem, importedMemory } from '../../protocol/abi.js';
import { wasmInterface } from '../../protocol/wasm-interface.js';
import { body, exportFunc, funcType, I32, importFunc, module, section, str, u32, vec } from '../wasm-host/metering/wasm-bytes.js';

/** The verdict the check gave when it compiled the binary. */
function compiledVerdict(wasm: Uint8Array<ArrayBuffer>): string | undefined {
  let compiled: WebAssembly.Module;
  try {
    compiled = new WebAssembly.Module(wasm);
  } catch (error) {
    if (error instanceof WebAssembly.CompileError) return 'not a valid WebAssembly binary';
    return `WebAssembly compile failed: ${(error as Error).message}`;
  }
  return compiledAbiProblem(compiled);
}

const read = (path: string): Uint8Array<ArrayBuffer> => new Uint8Array(readFileSync(path));
const examples = ['downsample', 'ema', 'fft', 'threshold', 'vibration', 'zscore'].map((name) => read(fromRoot('modules-as', 'examples', name, 'build', 'release.wasm')));
const hostile = ['bigdata', 'faulty', 'grow'].map((name) => read(join(fromRoot('test', 'fixtures', 'hostile'), name, 'build', 'release.wasm')));
const ema = examples[1]!;

const memoryImport = (flags: number, ...limits: number[]): number[] => [...str('env'), ...str('memory'), 0x02, flags, ...limits.flatMap((l) => u32(l))];
const abiExports = (names: string[], kind = 0x00): number[] => vec(names.map((name) => [...str(name), kind, 0]));
const REQUIRED = ['wf_abi', 'wf_init', 'wf_process', 'wf_output', 'wf_dropped'];
const oneFunction = [section(1, vec([funcType([], [I32])])), section(3, vec([[0]]))];
const code = section(10, vec([body([], [0x41, 0x02])]));

/** Hand-assembled binaries, each breaking the ABI (or not) in its own way. */
const handMade: Array<[string, Uint8Array<ArrayBuffer>]> = [
  ['empty module', module()],
  ['memory import only', module(section(2, vec([memoryImport(0x01, 1, 16)])))],
  ['ABI exports, no memory import', module(...oneFunction, section(7, abiExports(REQUIRED)), code)],
  [
    'memory import and ABI exports',
    module(section(1, vec([funcType([], [I32])])), section(2, vec([memoryImport(0x03, 1, 16)])), section(3, vec([[0]])), section(7, abiExports(REQUIRED)), code),
  ],
  [
    'wasi import',
    module(section(1, vec([funcType([], [I32])])), section(2, vec([importFunc('wasi_snapshot_preview1', 'fd_write', 0), memoryImport(0x01, 1)])), section(3, vec([[0]])), section(7, abiExports(REQUIRED)), code),
  ],
  ['env.memory imported as a function', module(section(1, vec([funcType([], [])])), section(2, vec([importFunc('env', 'memory', 0)])))],
  ['env.abort imported as a global', module(section(2, vec([[...str('env'), ...str('abort'), 0x03, I32, 0x00], memoryImport(0x01, 1)])))],
  [
    'own memory exported',
    module(section(1, vec([funcType([], [I32])])), section(2, vec([memoryImport(0x01, 1)])), section(3, vec([[0]])), section(5, vec([[0x00, 1]])), section(7, vec([...REQUIRED.map((n) => exportFunc(n, 0)), [...str('mem'), 0x02, 0]])), code),
  ],
  [
    'wf_abi exported as a global',
    module(
      section(1, vec([funcType([], [I32])])),
      section(2, vec([memoryImport(0x01, 1)])),
      section(3, vec([[0]])),
      section(6, vec([[I32, 0x00, 0x41, 0x00, 0x0b]])),
      section(7, vec([[...str('wf_abi'), 0x03, 0], ...REQUIRED.slice(1).map((n) => exportFunc(n, 0))])),
      code,
    ),
  ],
  ['table import', module(section(2, vec([[...str('env'), ...str('table'), 0x01, 0x70, 0x00, 0x01]])))],
  ['a name that is not UTF-8', module(section(2, vec([[...str('env'), 2, 0xc3, 0x28, 0x02, 0x00, 0x01]])))],
  ['custom section first', module(section(0, [...str('note'), 1, 2, 3]), section(2, vec([memoryImport(0x01, 1)])))],
];

test('abiProblem gives the verdict compiling gave, for example modules, hostile modules and hand-made binaries', () => {
  for (const wasm of [...examples, ...hostile]) assert.equal(abiProblem(wasm), compiledVerdict(wasm));
  for (const [what, wasm] of handMade) assert.equal(abiProblem(wasm), compiledVerdict(wasm), what);
  // The corpus covers each kind of verdict.
  const verdicts = new Set(handMade.map(([, wasm]) => abiProblem(wasm)?.replace(/ [a-z_]+\.[a-z_]+ /, ' X ')));
  assert.ok(verdicts.size >= 6, [...verdicts].join(' | '));
  assert.equal(abiProblem(ema), undefined);
});

test('abiProblem gives the verdict compiling gave for damaged binaries: truncated, bytes flipped', () => {
  let refusedInvalid = 0;
  // Every byte of the header, types, imports, functions and exports, and a sample of the rest.
  const exportSection = ema.indexOf(0x07, 8);
  for (let at = 0; at < ema.length; at += at < Math.max(400, exportSection + 200) ? 1 : 13) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const damaged = new Uint8Array(ema);
      damaged[at]! ^= mask;
      const expected = compiledVerdict(damaged);
      assert.equal(abiProblem(damaged), expected, `byte ${at} ^ ${mask}`);
      if (expected === 'not a valid WebAssembly binary') refusedInvalid += 1;
    }
  }
  for (let length = 0; length < ema.length; length += 7) {
    const truncated = ema.slice(0, length);
    assert.equal(abiProblem(truncated), compiledVerdict(truncated), `first ${length} bytes`);
  }
  assert.ok(refusedInvalid > 100, `${refusedInvalid} damaged binaries refused as invalid`);
});

test('abiProblem compiles nothing: it validates and reads the binary', () => {
  const Original = WebAssembly.Module;
  let compiled = 0;
  const counting = new Proxy(Original, {
    construct(target, args) {
      compiled += 1;
      return Reflect.construct(target, args) as object;
    },
  });
  Object.defineProperty(WebAssembly, 'Module', { value: counting, writable: true, configurable: true });
  try {
    assert.equal(abiProblem(ema), undefined);
    assert.equal(abiProblem(module()), 'required export wf_abi is missing');
    assert.equal(abiProblem(ema.slice(0, 100)), 'not a valid WebAssembly binary');
  } finally {
    Object.defineProperty(WebAssembly, 'Module', { value: Original, writable: true, configurable: true });
  }
  assert.equal(compiled, 0, 'no WebAssembly.Module built');
});

test('the binary reader lists what WebAssembly.Module.imports and .exports list, in their order', () => {
  for (const wasm of [...examples, ...hostile, ...handMade.map(([, bytes]) => bytes).filter((bytes) => WebAssembly.validate(bytes))]) {
    const compiled = new WebAssembly.Module(wasm);
    const surface = wasmInterface(wasm)!;
    assert.deepEqual(
      surface.imports.map(({ module: from, name, kind }) => ({ module: from, name, kind })),
      WebAssembly.Module.imports(compiled).map(({ module: from, name, kind }) => ({ module: from, name, kind })),
    );
    assert.deepEqual(
      surface.exports.map(({ name, kind }) => ({ name, kind })),
      WebAssembly.Module.exports(compiled).map(({ name, kind }) => ({ name, kind })),
    );
  }
  assert.deepEqual(importedMemory(ema), { minimum: 1, maximum: 65536, shared: true });
  assert.equal(wasmInterface(ema.slice(0, 40)), undefined, 'a binary cut inside its imports reads as nothing');
});
