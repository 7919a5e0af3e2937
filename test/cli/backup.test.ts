/**
 * `wasmfleet backup` against a running server process, and a restore from the copy: the server
 * comes back with exactly the backed-up inventory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, runCliJson } from '../helpers/cli.js';
import { Fleet } from '../e2e/fault-helpers.js';
import type { BackupSummary } from '../../cli/commands/backup.js';

test('backup a running server, then restore it: the inventory is the backed-up one', async (t) => {
  const fleet = await Fleet.start(t);
  await fleet.addDevice('gw-kept');
  await fleet.publishEma();
  const out = join(fleet.dir, 'fleet-backup.db');

  const summary = await runCliJson<BackupSummary>(['backup', '--data', fleet.dataDir, '--out', out]);
  assert.equal(summary.integrity, 'ok');
  assert.equal(summary.devices, 1);
  assert.equal(summary.modules, 1);
  const again = await runCli(['backup', '--data', fleet.dataDir, '--out', out, '--json']);
  assert.equal(again.code, 2, 'an existing file is never overwritten');
  assert.match(again.stdout, /WF_CLI_FILE/);

  await fleet.addDevice('gw-after-backup');
  await fleet.stopServer();
  const db = join(fleet.dataDir, 'fleet.db');
  copyFileSync(out, db);
  rmSync(`${db}-wal`, { force: true });
  rmSync(`${db}-shm`, { force: true });
  await fleet.startServer();

  const listed = await runCliJson<{ devices: { id: string }[] }>(['device', 'list'], fleet.env);
  assert.deepEqual(listed.devices.map((device) => device.id), ['gw-kept']);
  const modules = await runCliJson<{ modules: { name: string }[] }>(['module', 'list'], fleet.env);
  assert.deepEqual(modules.modules.map((module) => module.name), ['ema']);
});
