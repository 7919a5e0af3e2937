/**
 * A spool whose disk write fails, on a real agent process: as root, permissions do not stop a
 * write, so the segment is a symlink to /dev/full (every write fails with ENOSPC), or a file
 * sits where the spool directory should be. The agent logs a clear error, reports it through
 * the API, keeps running its module and sends live; every seq is still stored once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait.js';
import { assertExactAccounting, Fleet, logLines, stoppedLog, type AgentRun } from './fault-helpers.js';

interface DeviceView {
  reported?: { modules: { name: string; state: string }[]; spool?: { writeFailures: number; lastError?: string; pending: number } };
}

async function deviceView(fleet: Fleet, id: string): Promise<DeviceView> {
  const response = await fetch(`${fleet.apiUrl}/api/v1/devices/${id}`, { headers: { authorization: `Bearer ${fleet.env.WASMFLEET_TOKEN}` } });
  assert.equal(response.status, 200);
  return (await response.json()) as DeviceView;
}

for (const variant of [
  { name: 'the spool segment is /dev/full', prepare: (spoolDir: string) => (mkdirSync(spoolDir, { recursive: true }), symlinkSync('/dev/full', join(spoolDir, '00000001.seg'))), error: /spool write failed.*ENOSPC/ },
  { name: 'a file stands where the spool directory should be', prepare: (spoolDir: string) => writeFileSync(spoolDir, 'not a directory'), error: /spool directory unusable/ },
]) {
  test(`spool write failure (${variant.name}): clear error, reported through the API, modules run, results sent live`, async (t) => {
    const fleet = await Fleet.start(t);
    await fleet.addDevice('gw-d1');
    const stateDir = fleet.stateDir('gw-d1');
    mkdirSync(stateDir, { recursive: true });
    variant.prepare(join(stateDir, 'spool'));
    const [run] = (await fleet.streaming(['gw-d1'], 12)) as [AgentRun];

    const view = await waitFor('the failure in the reported state', async () => {
      const device = await deviceView(fleet, 'gw-d1');
      return (device.reported?.spool?.writeFailures ?? 0) > 0 ? device : undefined;
    }, 15_000, 250);
    assert.match(view.reported!.spool!.lastError ?? '', variant.error);
    assert.deepEqual(view.reported!.modules.map((m) => [m.name, m.state]), [['ema', 'running']]);
    const errors = logLines(run.process.output()).filter((line) => line.level === 'error' && variant.error.test(`${line.msg}: ${String(line.error)}`));
    assert.ok(errors.length >= 1, 'a clear error is logged');
    assert.ok(errors.length <= 2, 'once a minute, not once per result');

    assert.equal(await run.process.stop(), 0);
    const stopped = stoppedLog(run)!;
    const spool = stopped.spool as { pending: number; writeFailures: number; droppedRanges: [number, number][] };
    assert.equal(spool.pending, 0);
    const counts = assertExactAccounting(fleet.storedSeqs('gw-d1'), spool.droppedRanges, [await run.firstSeq()], stopped.nextSeq as number);
    assert.equal(counts.dropped, 0, 'with the broker up, a failing disk loses nothing');
  });
}
