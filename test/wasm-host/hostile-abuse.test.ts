/**
 * The hostile-module suite (issue 17): table abuse (a huge declared table, a table without a
 * maximum, table.grow / table.fill / table.copy loops), bulk memory abuse (memory.fill /
 * memory.copy / memory.grow loops), huge function counts and large code. Under both isolations,
 * a module over a cap is refused before it is compiled, with the reason; a runaway loop of bulk
 * operations ends as a timeout fault; a module beside them keeps working.
 * How quickly the runaways stop is measured in bench/ (sandbox-lifecycle), not asserted here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ISOLATIONS } from '../../wasm-host/select.js';
import type { SandboxLimits } from '../../wasm-host/types.js';
import { DEFAULT_MODULE_CAPS } from '../../wasm-host/footprint.js';
import { abuseManifest, abuseModule, type AbuseOptions, type Runaway } from '../fixtures/hostile/abuse-modules.js';
import { batch, example, isFault, openSandbox, SANDBOXES } from './sandbox-helpers.js';

const LIMITS: SandboxLimits = { memoryPages: 64, cpuMsPerBatch: 150, maxOutputsPerBatch: 64 };
const RUNAWAYS: readonly Runaway[] = ['table.fill', 'table.copy', 'table.grow', 'memory.fill', 'memory.copy', 'memory.grow'];

for (const isolation of ISOLATIONS) {
  const start = (options: AbuseOptions, limits: SandboxLimits = LIMITS) =>
    SANDBOXES[isolation]({ wasm: abuseModule(options), manifest: abuseManifest('abuse'), config: {}, limits, batchCapacity: 256 });

  test(`${isolation}: a harmless hand-assembled module starts and answers (the fixtures are valid)`, async () => {
    const sandbox = await start({});
    assert.deepEqual(await sandbox.process(...batch(1)), { metrics: [], events: [], dropped: 0 });
    await sandbox.close();
  });

  test(`${isolation}: tables over the cap, or without a maximum, are refused before compiling`, async () => {
    // Ten million entries: instantiated, this table alone would take ~270 MiB of V8 heap and abort the process.
    await assert.rejects(start({ tables: [[10_000_000, 10_000_000]] }), isFault('invalid', /tables declare 10000000 entries; the cap is 10000/));
    await assert.rejects(start({ tables: [[1, 10_000_000]] }), isFault('invalid', /tables declare 10000000 entries/));
    await assert.rejects(start({ tables: [[6000, 6000], [6000, 6000]] }), isFault('invalid', /tables declare 12000 entries/));
    await assert.rejects(start({ tables: [[2, undefined]] }), isFault('invalid', /declares no maximum/));
  });

  test(`${isolation}: huge function counts and large code are refused before compiling`, async () => {
    // 60,000 tiny functions fit in well under 2 MiB and cost ~70 MiB once compiled.
    await assert.rejects(start({ extraFunctions: 60_000 }), isFault('invalid', /defines 60005 functions; the cap is 10000/));
    await assert.rejects(start({ extraFunctions: 1, extraBodyBytes: 100_000 }), isFault('invalid', /a function body is .* KiB; the cap is 64\.0 KiB/));
    await assert.rejects(start({ extraFunctions: 20, extraBodyBytes: 60_000 }), isFault('invalid', /code section is .* KiB; the cap is 1024\.0 KiB/));
  });

  test(`${isolation}: tables and code are charged to the memory budget; a module they overrun is refused with the reason`, async () => {
    // 5,000 functions are ~5 MiB of compiled code: more than a budget of 64 pages (4 MiB) holds.
    await assert.rejects(start({ extraFunctions: 5000 }), isFault('invalid', /tables and code cost .* of its memory budget of 64 pages/));
    const roomy = await start({ extraFunctions: 5000 }, { ...LIMITS, memoryPages: 256 });
    await roomy.close();
  });

  for (const runaway of RUNAWAYS) {
    test(`${isolation}: a ${runaway} loop is stopped as a timeout, and a healthy module beside it keeps working`, async (t) => {
      const ema = await openSandbox(t, example('ema'), { memoryPages: 8, cpuMsPerBatch: 2000, maxOutputsPerBatch: 1024 }, undefined, isolation);
      const sandbox = await start({ runaway });
      t.after(() => sandbox.close());
      await assert.rejects(sandbox.process(...batch(1)), isFault('timeout', /budget of 150 ms/));
      const output = await ema.process(...batch(20, 21, 22));
      assert.equal(output.dropped, 0, 'ema still answers');
    });
  }
}

test('the default caps are the documented ones', () => {
  assert.deepEqual({ ...DEFAULT_MODULE_CAPS }, { tableEntries: 10_000, functions: 10_000, codeBytes: 1024 * 1024, functionBodyBytes: 64 * 1024 });
});
