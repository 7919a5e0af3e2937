/**
 * Every stop is bounded (docs/operations.md §Stopping), on real processes: `wasmfleet agent`
 * and `wasmfleet server` exit by themselves after SIGTERM, cleanly (exit 0, their `stopped` line
 * logged), whatever their peers or their disk do. The harness waits far longer than the bound
 * before it would SIGKILL, so a hang fails the test (exit code null) without timing anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { RunningCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { assertExactAccounting, fillDisk, Fleet, logLines, stoppedLog, tinyDisk, type AgentRun } from './fault-helpers.js';

/** Far past the 5 s bound: only a process that hangs gets here. */
const HANG_MS = 30_000;

/** SIGTERM, then the exit code the process chose (null if it had to be killed). */
async function terminate(run: RunningCli): Promise<number | null> {
  run.child.kill('SIGTERM');
  const killer = setTimeout(() => run.child.kill('SIGKILL'), HANG_MS);
  const code = await run.exited;
  clearTimeout(killer);
  return code;
}

function spoolOf(run: AgentRun): { pending: number; writeFailures: number; droppedRanges: [number, number][] } {
  const stopped = stoppedLog(run);
  assert.ok(stopped, `the agent logged its clean stop:\n${run.process.output().slice(-2000)}`);
  return stopped.spool as { pending: number; writeFailures: number; droppedRanges: [number, number][] };
}

test('agent: the broker hangs and then dies during the stop; the agent still exits, and the next run sends what was not acked', async (t) => {
  const fleet = await Fleet.start(t);
  await fleet.addDevice('gw-s1');
  const [first] = (await fleet.streaming(['gw-s1'], 8)) as [AgentRun];

  // A stopped server keeps its sockets open but answers nothing: no PUBACK, no ack, no FIN.
  fleet.server!.child.kill('SIGSTOP');
  await new Promise((resolve) => setTimeout(resolve, 600)); // a few results pile up unacked
  first.process.child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 300));
  await fleet.killServer();
  const killer = setTimeout(() => first.process.child.kill('SIGKILL'), HANG_MS);
  assert.equal(await first.process.exited, 0, 'the agent exited by itself, cleanly');
  clearTimeout(killer);
  const leftInSpool = spoolOf(first).pending;
  assert.ok(leftInSpool > 0, 'results the API never acked were kept in the spool');

  await fleet.startServer();
  const second = fleet.startAgent('gw-s1');
  await fleet.settled('gw-s1', 1);
  const secondFirst = await second.firstSeq();
  await waitFor('results from the second run', () => (fleet.storedSeqs('gw-s1').some((seq) => seq >= secondFirst) ? true : undefined), 30_000);
  assert.equal(await terminate(second.process), 0);
  const stopped = stoppedLog(second)!;
  const counts = assertExactAccounting(fleet.storedSeqs('gw-s1'), spoolOf(second).droppedRanges, [await first.firstSeq(), await second.firstSeq()], stopped.nextSeq as number);
  assert.equal(counts.dropped, 0, 'nothing lost: the first run kept on disk what it could not send');
});

test('agent: its disk is full; SIGTERM still stops it cleanly', async (t) => {
  const disk = tinyDisk(t, 1024 * 1024);
  if (!disk) {
    t.skip('mounting a tmpfs needs root');
    return;
  }
  const fleet = await Fleet.start(t);
  await fleet.addDevice('gw-s2', { stateDir: join(disk, 'state') });
  const [run] = (await fleet.streaming(['gw-s2'], 4)) as [AgentRun];
  // Fill what is left: from here every spool write and every state file save fails with ENOSPC.
  fillDisk(disk);
  await waitFor('a spool write to fail', () => (logLines(run.process.output()).some((line) => line.msg.startsWith('spool write failed')) ? true : undefined), 15_000);

  assert.equal(await terminate(run.process), 0);
  assert.ok(spoolOf(run).writeFailures > 0, 'the disk really was full');
});

test('agent: its state directory is removed under it; SIGTERM still stops it cleanly', async (t) => {
  const fleet = await Fleet.start(t);
  await fleet.addDevice('gw-s3');
  const [run] = (await fleet.streaming(['gw-s3'], 4)) as [AgentRun];
  rmSync(fleet.stateDir('gw-s3'), { recursive: true, force: true });
  await new Promise((resolve) => setTimeout(resolve, 500));

  assert.equal(await terminate(run.process), 0);
  spoolOf(run);
});

test('server: a client stalls mid-upload and agents stay connected; SIGTERM still stops it cleanly', async (t) => {
  const fleet = await Fleet.start(t);
  await fleet.addDevice('gw-s4');
  await fleet.streaming(['gw-s4'], 4);
  // Headers and a fragment of the body, then nothing: Fastify would wait for the rest forever.
  const socket = connect(fleet.httpPort, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`POST /api/v1/devices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${fleet.env.WASMFLEET_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"id":`);
  await new Promise((resolve) => setTimeout(resolve, 300));

  const server = fleet.server!;
  fleet.server = undefined;
  assert.equal(await terminate(server), 0);
  assert.ok(logLines(server.output()).some((line) => line.msg === 'platform stopped'), 'the clean stop is logged');
});

/** The server's clean stop: exit 0 and its `platform stopped` line. */
async function serverStopsCleanly(fleet: Fleet): Promise<void> {
  const server = fleet.server!;
  fleet.server = undefined;
  assert.equal(await terminate(server), 0, `the server exited by itself, cleanly:\n${server.output().slice(-2000)}`);
  assert.ok(logLines(server.output()).some((line) => line.msg === 'platform stopped'), 'the clean stop is logged');
}

test('server: its disk is full while agents stream; SIGTERM still stops it cleanly', async (t) => {
  const disk = tinyDisk(t, 8 * 1024 * 1024);
  if (!disk) {
    t.skip('mounting a tmpfs needs root');
    return;
  }
  const fleet = await Fleet.start(t, { dataDir: join(disk, 'data') });
  await fleet.addDevice('gw-s5');
  await fleet.streaming(['gw-s5'], 4);
  fillDisk(disk);
  const server = fleet.server!;
  await waitFor(
    'an ingest turn to meet the full disk',
    () => (logLines(server.output()).some((line) => /refused by SQLite|flush failed|last-seen not updated/.test(line.msg)) ? true : undefined),
    30_000,
  );
  await serverStopsCleanly(fleet);
});

test('server: its data directory is removed under it while agents stream; SIGTERM still stops it cleanly', async (t) => {
  const fleet = await Fleet.start(t);
  await fleet.addDevice('gw-s6');
  await fleet.streaming(['gw-s6'], 4);
  rmSync(fleet.dataDir, { recursive: true, force: true });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await serverStopsCleanly(fleet);
});
