/**
 * Logs users can read, on a real `wasmfleet server`: every line on stderr is a JSON log line
 * (node-cron's own warnings included: a stopped process misses its scheduled runs, which node-cron
 * would print as coloured text), stdout is the command's one JSON document, and the jobs that
 * tick every second log no info line while they change nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from './fault-helpers.js';

test('the server prints only JSON, routes node-cron warnings through its logger, and idle job ticks are not info lines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-logs-'));
  const server = startCli(['server', '--data', join(dir, 'data'), '--mqtt-port', String(await freePort()), '--http-port', String(await freePort()), '--json'], { WASMFLEET_LOG_LEVEL: 'info' });
  // Hooks run in the order they were added: the server stops writing under `dir` before it goes.
  t.after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  let stdout = '';
  let stderr = '';
  server.child.stdout!.on('data', (chunk) => (stdout += chunk));
  server.child.stderr!.on('data', (chunk) => (stderr += chunk));
  await waitFor('the server to start', () => (stdout.includes('"adminTokenFile"') ? true : undefined), 30_000);

  // Stopped for 3 s: the every-second rollout job misses its runs, as under a starved event loop.
  server.child.kill('SIGSTOP');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  server.child.kill('SIGCONT');
  await waitFor('the missed runs to be logged', () => (stderr.includes('scheduled runs missed') ? true : undefined), 15_000);
  await new Promise((resolve) => setTimeout(resolve, 2500)); // a few more ordinary ticks
  assert.equal(await server.stop(), 0);

  const lines = stderr.split('\n').filter((line) => line.length > 0);
  const records = lines.map((line) => {
    try {
      return JSON.parse(line) as { level: string; msg: string; job?: string; reason?: string; missed?: number };
    } catch {
      assert.fail(`a stderr line is not JSON: ${line}`);
    }
  });
  assert.ok(records.length > 0);
  for (const record of records) assert.ok(typeof record.level === 'string' && typeof record.msg === 'string', `a log record: ${JSON.stringify(record)}`);
  assert.doesNotThrow(() => JSON.parse(stdout), 'stdout is one JSON document');

  // The every-15-s offline detection misses a run too when the stop spans its second: each job
  // says so on its own line, so look for the every-second job's.
  const missedLines = records.filter((record) => record.msg === 'scheduled runs missed: the event loop was busy');
  const missed = missedLines.find((record) => record.job === 'rollout-progression');
  assert.ok(missed && missed.level === 'warn' && missed.missed! >= 1, `missed runs are one structured warning: ${JSON.stringify(missedLines)}`);
  assert.equal(missedLines.filter((record) => record.job === 'rollout-progression').length, 1, 'once, not once per missed run');
  const idleTicks = records.filter((record) => record.msg === 'job finished' && record.level === 'info');
  assert.deepEqual(idleTicks, [], 'ticks that changed nothing are not info lines');
});
