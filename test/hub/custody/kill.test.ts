/**
 * kill -9 of a real process holding custody, mid-stream (four receives in flight, fdatasyncs
 * shared, forwarding going on), twice on the same directory; then the directory is reopened:
 * every batch the process acknowledged to a device and that was not acknowledged upstream is
 * there, each once, and goes upstream in seq order per device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openCustody, published, tempDir, until } from './helpers.js';

const childPath = fileURLToPath(new URL('./custody-child.js', import.meta.url));
const key = (deviceId: string, seq: number) => `${deviceId}/${seq}`;

interface Run {
  acked: Set<string>;
  upstream: Set<string>;
}

/** Runs the child until it has acknowledged `killAfter` batches, then SIGKILLs it. */
async function runAndKill(t: import('node:test').TestContext, dir: string, round: number, killAfter: number, run: Run): Promise<void> {
  const child = spawn(process.execPath, [childPath, dir, String(round)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<string | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  let ackedThisRun = 0;
  let done = false;
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    const message = JSON.parse(line) as { acked?: string; stored?: [number, number][]; up?: string; seqs?: number[]; done?: boolean };
    if (message.acked) {
      for (const [first, last] of message.stored!) for (let seq = first; seq <= last; seq++) run.acked.add(key(message.acked, seq));
      ackedThisRun += message.stored!.reduce((n, [a, b]) => n + b - a + 1, 0);
      if (ackedThisRun >= killAfter && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    if (message.up) for (const seq of message.seqs!) run.upstream.add(key(message.up, seq));
    if (message.done) done = true;
  });
  const signal = await exited;
  assert.equal(done, false, 'killed while still receiving');
  assert.equal(signal, 'SIGKILL');
  assert.ok(ackedThisRun >= killAfter);
}

test('kill -9 mid-stream, twice: every batch acknowledged to a device and not upstream survives, once, in order', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const run: Run = { acked: new Set(), upstream: new Set() };
  await runAndKill(t, dir, 1, 3_000, run);
  await runAndKill(t, dir, 2, 3_000, run);

  const custody = await openCustody(t, dir);
  const forwarded: string[] = [];
  const perDevice = new Map<string, number[]>();
  custody.startForwarding(async (topic, payload) => {
    const sent = published(topic, payload);
    for (const seq of sent.seqs) {
      forwarded.push(key(sent.deviceId, seq));
      perDevice.set(sent.deviceId, [...(perDevice.get(sent.deviceId) ?? []), seq]);
    }
    setImmediate(() => custody.upstreamAck(sent.deviceId, { v: 1, deviceId: sent.deviceId, stored: sent.seqs.map((s) => [s, s] as [number, number]) }));
  });
  await until(() => custody.backlog().batches === 0, 30_000);

  const expected = [...run.acked].filter((k) => !run.upstream.has(k));
  assert.ok(expected.length > 1000, `a real backlog survived (${expected.length})`);
  const got = new Set(forwarded);
  assert.equal(got.size, forwarded.length, 'no batch forwarded twice');
  const missing = expected.filter((k) => !got.has(k));
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged batches missing`);
  for (const [deviceId, seqs] of perDevice) {
    assert.ok(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!), `${deviceId} forwarded in seq order`);
  }
  // Nothing appears that no device ever sent (e.g. a half-written record read as a batch).
  const sentByChildren = (seq: number) => (seq >= 1_000_000 && seq < 1_200_000) || (seq >= 2_000_000 && seq < 2_200_000);
  assert.ok(forwarded.every((k) => sentByChildren(Number(k.split('/')[1]))));
  assert.deepEqual(custody.lost(), {});
  await custody.close();
});
