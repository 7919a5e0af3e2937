/**
 * The metered sandbox skips its own WebAssembly.validate only for bytes the caller vouches for by
 * their sha256 (the agent compiled them in its ABI check); a hint naming other bytes changes
 * nothing, and valid bytes start either way.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { effectiveConfig } from '../../protocol/index.js';
import { startMeteredSandbox } from '../../wasm-host/metered-sandbox.js';
import { SandboxFault } from '../../wasm-host/types.js';
import { ensureBuilt } from '../../modules-as/tools/build-examples.js';
import { batch, example } from './sandbox-helpers.js';

const limits = { memoryPages: 64, cpuMsPerBatch: 500, maxOutputsPerBatch: 2048 };
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

test('validSha256 is honoured for the bytes it names only', async () => {
  const built = await ensureBuilt(example('ema'));
  const options = { manifest: built.manifest, config: effectiveConfig(built.manifest, {}), limits, batchCapacity: 64 };
  // A valid header, then a section id no binary has: WebAssembly.validate says no.
  const invalid = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x63]);
  const reasonOf = async (validSha256?: string): Promise<string> => {
    try {
      await startMeteredSandbox({ ...options, wasm: invalid, ...(validSha256 ? { validSha256 } : {}) }, new Map());
    } catch (error) {
      assert.ok(error instanceof SandboxFault && error.kind === 'invalid', String(error));
      return error.message;
    }
    throw new Error('started');
  };
  assert.match(await reasonOf(), /not a valid WebAssembly binary/);
  assert.match(await reasonOf(sha(built.bytes)), /not a valid WebAssembly binary/, 'a hint naming other bytes is ignored');
  const vouched = await reasonOf(sha(invalid));
  assert.doesNotMatch(vouched, /not a valid WebAssembly binary/, 'the named bytes skip the validate (and still fail, later)');

  const sandbox = await startMeteredSandbox({ ...options, wasm: built.bytes, validSha256: sha(built.bytes) }, new Map());
  const output = await sandbox.process(...batch(1, 2, 3));
  assert.equal(output.dropped, 0, "it runs");
  await sandbox.close();
});
