/**
 * verifyModule remembers the ABI check's verdict by content hash (a validate and a read of the
 * binary each time otherwise); what it answers must not change: a refused binary is refused at every ask, a
 * good one passes at every ask, and one never stands in for the other. The verdicts and the
 * compiled modules are each agent's own: simulated devices sharing a process share no work.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { abiVerdicts, verifyModule } from '../../device-agent/module-verify.js';
import { sandboxFactory } from '../../wasm-host/select.js';
import { abiProblem, sha256Hex, type DesiredModule } from '../../protocol/index.js';
import { exampleModule } from './helpers.js';

const ema = exampleModule('ema');
const target = { profile: 'sim-x86-64', arch: 'x64', abiVerdicts: abiVerdicts() };
const entry = (wasm: Uint8Array): DesiredModule => ({ name: 'ema', version: '1.0.0', sha256: sha256Hex(wasm), size: wasm.byteLength, deploymentId: 'dep-1', config: {} });

test('a binary the ABI refuses is refused at every ask, a good one passes at every ask', () => {
  // A valid WebAssembly module with none of the ABI's exports.
  const empty = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  for (let i = 0; i < 3; i++) {
    const refused = verifyModule(entry(empty), { sha256: sha256Hex(empty), manifest: ema.manifest, wasm: empty }, target);
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.error.code, 'WF_AGENT_MODULE_ABI_REFUSED');
    const passed = verifyModule(entry(ema.wasm), { sha256: ema.sha256, manifest: ema.manifest, wasm: ema.wasm }, target);
    assert.ok(passed.ok);
  }
});

test('bytes that do not hash to the entry are refused before any remembered verdict is read', () => {
  assert.ok(verifyModule(entry(ema.wasm), { sha256: ema.sha256, manifest: ema.manifest, wasm: ema.wasm }, target).ok);
  const tampered = new Uint8Array(ema.wasm);
  tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 0xff;
  // The entry and the claimed hash name the good bytes; the bytes themselves are not them.
  const refused = verifyModule(entry(ema.wasm), { sha256: ema.sha256, manifest: ema.manifest, wasm: tampered }, target);
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.error.code, 'WF_AGENT_MODULE_HASH_MISMATCH');
});

test("an agent's verdicts are its own: another agent's context checks the same bytes itself", () => {
  const mine = { ...target, abiVerdicts: abiVerdicts() };
  const theirs = { ...target, abiVerdicts: abiVerdicts() };
  assert.ok(verifyModule(entry(ema.wasm), { sha256: ema.sha256, manifest: ema.manifest, wasm: ema.wasm }, mine).ok);
  assert.deepEqual([...mine.abiVerdicts.keys()], [ema.sha256]);
  assert.equal(theirs.abiVerdicts.size, 0, 'nothing learned by one agent reaches the other');
});

test('each agent gets its own metered sandbox factory (its own compiled modules)', async () => {
  const first = await sandboxFactory('metered', true);
  const second = await sandboxFactory('metered', true);
  assert.notEqual(first, second);
});

test("the ABI verdict is the protocol check's, word for word, for invalid, non-ABI and good bytes", () => {
  const invalid = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x63]);
  const empty = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  for (const wasm of [invalid, empty, ema.wasm]) {
    const expected = abiProblem(wasm);
    const verdict = verifyModule(entry(wasm), { sha256: sha256Hex(wasm), manifest: ema.manifest, wasm }, { ...target, abiVerdicts: abiVerdicts() });
    if (expected === undefined) assert.ok(verdict.ok);
    else {
      assert.equal(!verdict.ok && verdict.error.code, 'WF_AGENT_MODULE_ABI_REFUSED');
      assert.ok(!verdict.ok && verdict.error.message.includes(expected), `${!verdict.ok && verdict.error.message} names '${expected}'`);
    }
  }
  assert.equal(abiProblem(invalid), 'not a valid WebAssembly binary');
});
