/**
 * Every stop is bounded (docs/operations.md §Stopping), for `wasmfleet api` and `wasmfleet broker`
 * run as two processes: each exits by itself after SIGTERM, cleanly, whatever its peer or its
 * disk do: the API with its broker frozen and then dead during the stop, on a full disk, or with
 * its data directory removed; the broker with its API frozen (a connection that answers nothing)
 * and its data directory removed. The harness SIGKILLs only far past the 5 s bound, so a hang
 * fails the test (exit code null) without timing anything.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliJson, startCli, type RunningCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { fillDisk, freePort, logLines, tinyDisk } from './fault-helpers.js';

const HANG_MS = 30_000;

async function terminate(run: RunningCli): Promise<number | null> {
  run.child.kill('SIGTERM');
  const killer = setTimeout(() => run.child.kill('SIGKILL'), HANG_MS);
  const code = await run.exited;
  clearTimeout(killer);
  return code;
}

/** The JSON summary a server command prints once it runs. */
function summaryOf<T>(run: RunningCli, key: string): T | undefined {
  const output = run.output();
  const start = output.indexOf('{\n');
  const end = start < 0 ? -1 : output.indexOf('\n}', start);
  if (end < 0) return undefined;
  const summary = JSON.parse(output.slice(start, end + 2)) as Record<string, unknown>;
  return key in summary ? (summary as T) : undefined;
}

interface Split {
  readonly dataDir: string;
  readonly broker: RunningCli;
  readonly api: RunningCli;
  readonly env: Record<string, string>;
}

/** A broker and an API process on `dataDir`, with a device provisioned so the API has written to SQLite. */
async function startSplit(t: TestContext, dataDir?: string): Promise<Split> {
  const dir = mkdtempSync(join(tmpdir(), 'wf-stop-split-'));
  const data = dataDir ?? join(dir, 'data');
  const running: RunningCli[] = [];
  t.after(async () => {
    for (const run of running.reverse()) if (run.child.exitCode === null && run.child.signalCode === null) await run.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const broker = startCli(['broker', '--data', data, '--mqtt-port', String(await freePort()), '--json']);
  running.push(broker);
  const brokerUp = await waitFor('the broker to start', () => summaryOf<{ mqtt: string }>(broker, 'mqtt'), 30_000);
  const api = startCli(['api', '--data', data, '--http-port', String(await freePort()), '--mqtt-url', brokerUp.mqtt, '--json']);
  running.push(api);
  const apiUp = await waitFor('the api to start', () => summaryOf<{ api: string; adminToken: string }>(api, 'adminTokenFile'), 30_000);
  const env = { WASMFLEET_API: apiUp.api, WASMFLEET_TOKEN: apiUp.adminToken };
  await runCliJson(['device', 'add', 'gw-split-stop', '--profile', 'sim-x86-64', '--agent-config', join(dir, 'gw.json')], env);
  return { dataDir: data, broker, api, env };
}

/** Exit 0 and the process's own clean-stop line. */
async function stopsCleanly(run: RunningCli, what: string): Promise<void> {
  assert.equal(await terminate(run), 0, `${what} exited by itself, cleanly:\n${run.output().slice(-2000)}`);
  assert.ok(logLines(run.output()).some((line) => /stopped$/.test(line.msg)), `${what} logged its clean stop`);
}

test('api: its broker freezes and then dies during the stop; SIGTERM still stops it cleanly', async (t) => {
  const split = await startSplit(t);
  // A stopped broker keeps its sockets open and answers nothing: no PINGRESP, no PUBACK, no FIN.
  split.broker.child.kill('SIGSTOP');
  split.api.child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 300));
  split.broker.child.kill('SIGKILL');
  await split.broker.exited;
  const killer = setTimeout(() => split.api.child.kill('SIGKILL'), HANG_MS);
  assert.equal(await split.api.exited, 0, `the API exited by itself, cleanly:\n${split.api.output().slice(-2000)}`);
  clearTimeout(killer);
});

test('api: its disk is full; SIGTERM still stops it cleanly', async (t) => {
  const disk = tinyDisk(t, 8 * 1024 * 1024);
  if (!disk) {
    t.skip('mounting a tmpfs needs root');
    return;
  }
  const split = await startSplit(t, join(disk, 'data'));
  fillDisk(disk);
  // A write that meets the full disk: the API answers with an error, and lives on.
  const refused = await fetch(`${split.env.WASMFLEET_API}/api/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${split.env.WASMFLEET_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'gw-after-full', profile: 'sim-x86-64', tags: { filler: 'x'.repeat(4000) } }),
  });
  assert.ok(refused.status >= 400 || refused.status === 201, `an answer, not a hang (${refused.status})`);
  await stopsCleanly(split.api, 'the API');
  await stopsCleanly(split.broker, 'the broker');
});

test('api and broker: their data directory is removed under them; SIGTERM still stops each cleanly', async (t) => {
  const split = await startSplit(t);
  rmSync(split.dataDir, { recursive: true, force: true });
  await new Promise((resolve) => setTimeout(resolve, 500));
  await stopsCleanly(split.api, 'the API');
  await stopsCleanly(split.broker, 'the broker');
});

test('broker: its API freezes (a connection that answers nothing) during the stop; SIGTERM still stops it cleanly', async (t) => {
  const split = await startSplit(t);
  split.api.child.kill('SIGSTOP');
  t.after(() => {
    split.api.child.kill('SIGCONT');
  });
  await stopsCleanly(split.broker, 'the broker');
});
