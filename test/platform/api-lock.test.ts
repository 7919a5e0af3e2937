/** One fleet API per data directory: the lock file refuses a second process and outlives no dead one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockForApi, openDataDir } from '../../platform/data-dir.js';

test('a second API on a data directory whose lock another live process holds refuses to start, naming its pid', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-lock-'));
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => {
    other.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const dataDir = openDataDir(dir);
  writeFileSync(join(dir, 'fleet-api.lock'), `${other.pid}\n`);
  assert.throws(() => lockForApi(dataDir), (error: { code?: string; message?: string }) => error.code === 'WF_PLATFORM_API_RUNNING' && error.message!.includes(String(other.pid)));
});

test('a lock left by a dead process is taken over, and released on close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dead = spawn('true', [], { stdio: 'ignore' });
  await new Promise((resolve) => dead.once('exit', resolve));
  const dataDir = openDataDir(dir);
  const path = join(dir, 'fleet-api.lock');
  writeFileSync(path, `${dead.pid}\n`);
  const release = lockForApi(dataDir);
  assert.equal(readFileSync(path, 'utf8').trim(), String(process.pid));
  release();
  assert.equal(existsSync(path), false);
});
