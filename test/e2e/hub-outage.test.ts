/**
 * Issue 14's main test, with real processes: `wasmfleet server` (API + broker + SQLite), a
 * `wasmfleet hub` whose uplink runs through a TCP proxy the test controls, and five real
 * `wasmfleet agent` processes behind the hub. The uplink is cut for 60 s; results accumulate at
 * the hub (its custody on disk grows while SQLite does not); an agent is restarted and resumes
 * from the hub (connected there, its module's new results in the hub's custody); the hub itself
 * is killed with SIGKILL and restarted; a deployment is made. The uplink is restored: every result
 * each agent produced is in SQLite exactly once with no gap, and the deployment made during the
 * cut is applied at the site.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runCliJson } from '../helpers/cli.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { recordPayload, scanSegment } from '../../device-agent/spool/record.js';
import { SEGMENT_PATTERN } from '../../hub/custody/log.js';
import { assertExactAccounting, Fleet, logLines, stoppedLog, untilLogged, type AgentRun } from './fault-helpers.js';
import { TestHub } from './hub-helpers.js';

const HUB = 'north';
const DEVICES = ['site-1', 'site-2', 'site-3', 'site-4', 'site-5'];
/** The uplink cut the issue asks for. */
const CUT_MS = 60_000;
/**
 * Loose: the restarted agent's first result held at the hub, from its spawn. Most of it is Node
 * booting the CLI, which takes seconds on a loaded CI machine; the figures are reported as test
 * diagnostics (from the spawn, and from the agent's first log line).
 */
const RESUME_BOUND_MS = 30_000;

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const stat = statSync(join(dir, name), { throwIfNoEntry: false });
    if (stat?.isFile()) total += stat.size;
  }
  return total;
}

/** Every batch held in the hub's custody (hub/custody/log.ts framing): device, seq and when the hub took it. */
function custodyRecords(dir: string): Array<{ deviceId: string; seq: number; receivedAt: number }> {
  const found: Array<{ deviceId: string; seq: number; receivedAt: number }> = [];
  for (const name of readdirSync(dir).filter((file) => SEGMENT_PATTERN.test(file))) {
    const bytes = readFileSync(join(dir, name));
    for (const record of scanSegment(bytes).records) {
      const payload = recordPayload(bytes, record);
      found.push({ deviceId: payload.toString('utf8', 1, 1 + payload.readUInt8(0)), seq: record.seq, receivedAt: record.writtenAt });
    }
  }
  return found;
}

test('a site through a cut uplink: results held at the hub (also across its kill -9), an agent restarted from the hub, a deployment made during the cut applied after it, every result stored once with no gap', async (t) => {
  const fleet = await Fleet.start(t);
  t.after(() => {
    // WF_TEST_LOG_DIR=/some/dir keeps the agents' logs (the hub's are kept by TestHub) for looking into a failure.
    const keep = process.env.WF_TEST_LOG_DIR;
    if (keep) for (const [id, list] of fleet.agents) list.forEach((run, i) => writeFileSync(join(keep, `${id}-${i}.log`), run.process.output()));
  });
  const api = <T>(method: string, path: string, body?: unknown) => fleet.api<T>(method, path, body);

  // The hub first, with a selector: the devices imported next, tagged site=north, go behind it.
  // Its uplink runs through a TCP proxy the test cuts and restores.
  const proxy = await startTcpProxy(t, { port: fleet.mqttPort });
  const hub = await TestHub.provision(t, fleet, HUB, { selector: { site: HUB }, upstreamUrls: [proxy.url] });
  const hubUrl = hub.url;
  const csv = join(fleet.dir, 'site.csv');
  writeFileSync(csv, ['id,profile,tags', ...DEVICES.map((id) => `${id},sim-x86-64,site=${HUB}`)].join('\n'));
  await runCliJson(['device', 'import', csv, '--agent-config-dir', fleet.dir], fleet.env);
  assert.equal((await api<{ devices: { total: number } }>('GET', `/hubs/${HUB}`)).devices.total, DEVICES.length, 'the selector put every device behind the hub');
  // The agents connect to the hub, not to the centre, and reconnect fast (tests cannot wait a minute per retry).
  for (const id of DEVICES) {
    const path = join(fleet.dir, `${id}.json`);
    const config = JSON.parse(readFileSync(path, 'utf8')) as { broker: Record<string, unknown> };
    writeFileSync(path, JSON.stringify({ ...config, reconnectPeriodMs: 200, reconnectMaxMs: 2000, broker: { ...config.broker, url: hubUrl, urls: undefined } }));
  }
  await hub.start();

  // Streaming through the hub: ema deployed (the site's devices get it from the hub), results stored centrally.
  const runs = new Map<string, AgentRun[]>(DEVICES.map((id) => [id, []]));
  const start = (id: string) => runs.get(id)!.push(fleet.startAgent(id));
  for (const id of DEVICES) start(id);
  await Promise.all([
    fleet.publishEma(),
    waitFor('the hub online at the API', async () => ((await api<{ online: boolean }>('GET', `/hubs/${HUB}`)).online ? true : undefined), 20_000, 200),
  ]);
  await fleet.deployEma(DEVICES);
  await waitFor('results stored through the hub', () => (DEVICES.every((id) => fleet.storedSeqs(id).length >= 4) ? true : undefined), 30_000);

  // Cut the uplink for CUT_MS. The site keeps running: SQLite stops growing, the hub's custody grows.
  const custodyDir = hub.custodyDir;
  proxy.cut();
  const cutAt = Date.now();
  await waitFor('the hub seen offline', async () => ((await api<{ online: boolean }>('GET', `/hubs/${HUB}`)).online ? undefined : true), 20_000, 200);
  // A batch already past the proxy when it was cut (at the central broker, in the API's ingest
  // queue) may still be committed: the count at the cut is taken once SQLite has been still for 1.5 s.
  const storedNow = () => DEVICES.map((id) => fleet.storedSeqs(id).length);
  let storedAtCut: number[] = [];
  await waitFor('SQLite still after the cut', () => {
    const now = storedNow();
    const still = now.every((count, i) => count === storedAtCut[i]);
    storedAtCut = now;
    return still ? true : undefined;
  }, 20_000, 1500);
  const custodyAtCut = dirBytes(custodyDir);
  await waitFor('results accumulating at the hub', () => (dirBytes(custodyDir) > custodyAtCut + 4000 ? true : undefined), 20_000, 200);

  // A deployment made during the cut (every=2 instead of every=1).
  const deployment = await runCliJson<{ id: string }>(['deploy', 'ema@1.0.0', ...DEVICES.flatMap((id) => ['--device', id]), '--config', 'every=2', '--input', 'temperature', '--immediate'], fleet.env);

  // Restart one agent during the cut: it reconnects to the hub and its module runs again, its
  // new results held in the hub's custody.
  const restarted = runs.get('site-2')!;
  assert.equal(await restarted[0]!.process.stop(), 0);
  assert.equal((stoppedLog(restarted[0]!)!.spool as { pending: number }).pending, 0, 'everything it sent was acked by the hub');
  const spawnedAt = Date.now();
  start('site-2');
  await untilLogged(restarted[1]!, 'connected', 'the restarted agent connected to the hub');
  const resumedSeq = await restarted[1]!.firstSeq();
  const resumedAt = await waitFor(
    "the restarted agent's first result held at the hub",
    () => custodyRecords(custodyDir).find((record) => record.deviceId === 'site-2' && record.seq >= resumedSeq)?.receivedAt,
    RESUME_BOUND_MS,
    100,
  );
  const resumeMs = resumedAt - spawnedAt;
  const bootedAt = Date.parse(logLines(restarted[1]!.process.output())[0]!.time as string);
  t.diagnostic(`restarted agent: first result held at the hub ${resumeMs} ms after its spawn, ${resumedAt - bootedAt} ms after its first log line`);
  assert.ok(resumeMs < RESUME_BOUND_MS, `the restarted agent resumed from the hub (${resumeMs} ms)`);

  // kill -9 the hub during the cut and start it again: what it held is still on its disk, and
  // every agent reconnects to it.
  const connects = () => DEVICES.map((id) => logLines(runs.get(id)!.at(-1)!.process.output()).filter((line) => line.msg === 'connected').length);
  const connectsBefore = connects();
  const key = (record: { deviceId: string; seq: number }) => `${record.deviceId}#${record.seq}`;
  hub.current!.child.kill('SIGKILL');
  await hub.current!.exited;
  const heldAtKill = custodyRecords(custodyDir).map(key);
  await hub.start();
  const heldAfter = new Set(custodyRecords(custodyDir).map(key));
  assert.deepEqual(heldAtKill.filter((held) => !heldAfter.has(held)), [], 'everything the hub held before its kill -9 is held after it');
  await waitFor('every agent reconnected to the restarted hub', () => (connects().every((count, i) => count > connectsBefore[i]!) ? true : undefined), 30_000, 200);
  assert.deepEqual(DEVICES.map((id) => fleet.storedSeqs(id).length), storedAtCut, 'nothing reached SQLite during the cut');

  // Restore after the full cut: the backlog flows up, the deployment reaches the site.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, cutAt + CUT_MS - Date.now())));
  assert.deepEqual(DEVICES.map((id) => fleet.storedSeqs(id).length), storedAtCut, 'nothing reached SQLite during the cut');
  t.diagnostic(`held at the hub when the uplink returned: ${custodyRecords(custodyDir).length} batches, ${dirBytes(custodyDir)} bytes`);
  proxy.restore();
  await waitFor('the hub back online', async () => ((await api<{ online: boolean }>('GET', `/hubs/${HUB}`)).online ? true : undefined), 30_000, 200);
  const appliedDeployment = (id: string): string | undefined => {
    const db = new Database(join(fleet.dataDir, 'fleet.db'), { readonly: true, fileMustExist: true });
    try {
      const json = db.prepare('SELECT reported FROM devices WHERE id = ?').pluck().get(id) as string | null;
      const reported = json ? (JSON.parse(json) as { modules: { deploymentId: string; state: string }[] }) : undefined;
      return reported?.modules.find((m) => m.state === 'running')?.deploymentId;
    } finally {
      db.close();
    }
  };
  await waitFor('the deployment made during the cut applied at the site', () => (DEVICES.every((id) => appliedDeployment(id) === deployment.id) ? true : undefined), 60_000, 250);

  // Stop every agent, then wait until SQLite has each one's results up to its last seq.
  const finals = new Map<string, { nextSeq: number; dropped: [number, number][] }>();
  for (const id of DEVICES) {
    const last = runs.get(id)!.at(-1)!;
    assert.equal(await last.process.stop(), 0);
    const stopped = stoppedLog(last)!;
    const dropped = runs.get(id)!.flatMap((run) => (stoppedLog(run)!.spool as { droppedRanges: [number, number][] }).droppedRanges);
    finals.set(id, { nextSeq: stopped.nextSeq as number, dropped });
  }
  await waitFor('every result in SQLite', () => (DEVICES.every((id) => fleet.storedSeqs(id).at(-1) === finals.get(id)!.nextSeq - 1) ? true : undefined), 60_000, 250);
  for (const id of DEVICES) {
    const firstSeqs = await Promise.all(runs.get(id)!.map((run) => run.firstSeq()));
    const counts = assertExactAccounting(fleet.storedSeqs(id), finals.get(id)!.dropped, firstSeqs, finals.get(id)!.nextSeq);
    assert.equal(counts.dropped, 0, `${id}: nothing dropped`);
  }
  assert.ok(logLines(hub.current!.output()).some((line) => line.msg === 'uplink up'));
});
