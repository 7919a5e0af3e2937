/**
 * The trial start of an untrusted module runs in a child process: what would abort a process
 * (a table V8 cannot allocate) or never return ends there, reported with its reason, and this
 * process lives on. The caps are lifted here on purpose, to reach V8 with what they normally
 * refuse before compiling.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromRoot } from '../../common/paths.js';
import { ensureBuilt } from '../../modules-as/tools/build-examples.js';
import { effectiveConfig } from '../../protocol/index.js';
import { trialStart } from '../../wasm-host/trial.js';
import { abuseManifest, abuseModule } from '../fixtures/hostile/abuse-modules.js';

const LIMITS = { memoryPages: 64, cpuMsPerBatch: 1000, maxOutputsPerBatch: 64 };
const NO_CAPS = { tableEntries: Infinity, functions: Infinity, codeBytes: Infinity, functionBodyBytes: Infinity };

test('a healthy module passes its trial start', async () => {
  const ema = await ensureBuilt(fromRoot('modules-as', 'examples', 'ema'));
  const outcome = await trialStart({ wasm: ema.bytes, manifest: ema.manifest, config: effectiveConfig(ema.manifest, {}), limits: LIMITS, batchCapacity: 1024, startTimeoutMs: 3000 });
  assert.deepEqual(outcome, { ok: true });
});

test('caps in force: a ten-million-entry table is refused in the trial with the reason', async () => {
  const outcome = await trialStart({ wasm: abuseModule({ tables: [[10_000_000, 10_000_000]] }), manifest: abuseManifest('table'), config: {}, limits: LIMITS, batchCapacity: 64, startTimeoutMs: 3000 });
  assert.equal(outcome.ok, false);
  assert.match(!outcome.ok ? outcome.reason : '', /tables declare 10000000 entries; the cap is 10000/);
});

test('without caps, tables V8 cannot allocate abort only the trial process, and this one carries on', async () => {
  // Three tables of ten million entries: ~800 MiB of V8 heap against the trial's 96 MiB.
  const wasm = abuseModule({ tables: [[10_000_000, 10_000_000], [10_000_000, 10_000_000], [10_000_000, 10_000_000]] });
  // A budget of 4 GiB, so the memory budget does not refuse it either.
  const outcome = await trialStart({ wasm, manifest: abuseManifest('tables'), config: {}, limits: { ...LIMITS, memoryPages: 65536 }, batchCapacity: 64, startTimeoutMs: 20_000, caps: NO_CAPS });
  assert.equal(outcome.ok, false);
  assert.equal(!outcome.ok && outcome.kind, 'crash');
  assert.match(!outcome.ok ? outcome.reason : '', /trial process ended without an answer .*heap limit 96 MiB/);
  // Still here, and trials still run.
  assert.deepEqual(await trialStart({ wasm: abuseModule({}), manifest: abuseManifest('fine'), config: {}, limits: LIMITS, batchCapacity: 64, startTimeoutMs: 3000 }), { ok: true });
});

test('a start that outlives the wall clock is killed with its process', async () => {
  const hang = await ensureBuilt(fromRoot('test', 'fixtures', 'hostile', 'hangstart'));
  // The start budget would let it run for a minute; the wall clock does not.
  const outcome = await trialStart({ wasm: hang.bytes, manifest: hang.manifest, config: effectiveConfig(hang.manifest, {}), limits: LIMITS, batchCapacity: 64, startTimeoutMs: 60_000, killAfterMs: 1500 });
  assert.equal(outcome.ok, false);
  assert.equal(!outcome.ok && outcome.kind, 'timeout');
  assert.match(!outcome.ok ? outcome.reason : '', /did not finish within 1500 ms; its process was killed/);
});
