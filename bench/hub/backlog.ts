/**
 * Hub backlog flush (issue 14, Performance): a site of DEVICES devices (default 50) whose hub
 * holds the results of a long uplink cut (50 devices × 4 batches/s × 10 minutes ≈ 120,000
 * batches); once the uplink returns, results per second from the hub's custody into SQLite,
 * against the agents' own spool flush of the same number of batches straight to central.
 *
 * Default mode: the custody is filled by the same devices sending the same count. Each of the
 * site's agents (real agents, bench/rollout-agents.ts, one process) starts with BATCHES / DEVICES
 * batches of 25 points already in its spool, as after an outage; the hub's uplink (through a TCP
 * proxy the bench controls) is cut before they start, so they flush their spools into the hub's
 * custody, which acks them once durable. When custody holds them all, the uplink is restored and
 * the time runs until SQLite holds every batch. Baseline, same run and server: another 50 agents
 * with the same spools connected to central directly (through a proxy of their own, cut while they
 * start), timed from its restore until SQLite holds every batch.
 *
 * Full mode (opt-in, WF_BENCH_HUB_BACKLOG_CUT_MINUTES=10): the site's agents run ema on every
 * batch (4 batches/s each on sim-x86-64) and the uplink is cut for real that many minutes; the
 * agents are then stopped and what custody holds is flushed and timed as above; the baseline
 * spools that many batches.
 *
 * Either way: the batches in SQLite must equal the batches sent, with no gap per device and no
 * duplicate point row.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChildProcess } from 'node:child_process';
import { loadSigningKey } from '../../cli/commands/keys.js';
import { publishModuleDir } from '../../cli/commands/module.js';
import { fromRoot } from '../../common/paths.js';
import { Spool } from '../../device-agent/spool/spool.js';
import { encodePayload, PROTOCOL_VERSION, type ResultBatch } from '../../protocol/index.js';
import { startTcpProxy } from '../../test/helpers/tcp-proxy.js';
import { figure, type BenchFigure } from '../figure.js';
import { lightProfile, until } from '../rollout-scale.js';
import { Cleanups, deviceIds, HubProcess, provisionDevices, startAgents, startCentral, storedCounts, type Central, type ProvisionedDevice } from './parts.js';

const POINTS = 25;
const RECONNECT_MS = 200;

function spooledBatch(deviceId: string, seq: number): ResultBatch {
  const t = 1_700_000_000_000 + seq * 250;
  return {
    v: PROTOCOL_VERSION,
    deviceId,
    seq,
    module: 'ema',
    version: '1.0.0',
    deploymentId: 'bench-hub-backlog',
    input: { source: 'temperature', firstSeq: seq * POINTS, count: POINTS, from: t - 250, to: t },
    metrics: [{ name: 'ema', points: Array.from({ length: POINTS }, (_, i) => [t - 250 + i * 10, 21.5 + ((seq + i) % 100) / 100] as [number, number]) }],
    events: [],
    dropped: 0,
  };
}

/** `perDevice` batches in each device's spool, and its next seq past them, as after a real outage. */
async function fillSpools(devices: ProvisionedDevice[], perDevice: number): Promise<number> {
  let bytes = 0;
  for (const device of devices) {
    const spool = new Spool(join(device.stateDir, 'spool'), { maxBytes: 256 * 1024 * 1024, maxAgeS: 86_400 });
    for (let seq = 0; seq < perDevice; seq++) {
      const payload = encodePayload('results', spooledBatch(device.deviceId, seq));
      bytes += payload.byteLength;
      spool.append(seq, payload);
    }
    await spool.close();
    writeFileSync(join(device.stateDir, 'result-seq.json'), JSON.stringify({ reservedUpTo: perDevice }) + '\n');
  }
  return bytes;
}

/** Polls SQLite until `prefix`'s devices have `expected` batches; the ms from `since`. */
async function untilStored(central: Central, prefix: string, expected: number, since: number): Promise<number> {
  await until(`${expected} batches of ${prefix}* in SQLite`, async () => storedCounts(central.dbPath, prefix).batches >= expected, 900_000, 100);
  return performance.now() - since;
}

const spreadAddress = (n: number): string => `127.0.1.${2 + (n % 250)}`;

interface Flush {
  readonly batches: number;
  readonly ms: number;
  readonly points: number;
  readonly devicesWithGaps: number;
}

export interface BacklogOptions {
  readonly devices?: number;
  readonly batches?: number;
  readonly cutMinutes?: number;
}

export async function benchHubBacklog(options: BacklogOptions = {}): Promise<BenchFigure[]> {
  const deviceCount = options.devices ?? Number(process.env.WF_BENCH_HUB_BACKLOG_DEVICES ?? 50);
  const cutMinutes = options.cutMinutes ?? Number(process.env.WF_BENCH_HUB_BACKLOG_CUT_MINUTES ?? 0);
  const perDevice = Math.ceil((options.batches ?? Number(process.env.WF_BENCH_HUB_BACKLOG_BATCHES ?? 120_000)) / deviceCount);
  const cleanups = new Cleanups();
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-hub-backlog-'));
  cleanups.after(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }));
  try {
    const central = await startCentral(cleanups);
    const profile = lightProfile(dir);
    const uplink = await startTcpProxy(cleanups.context, { port: central.fleet.mqttPort });
    const hub = await HubProcess.start(cleanups, central, 'site', { site: 'backlog' }, uplink.url, dir);
    const siteDevices = await provisionDevices(central, deviceIds('hb-', deviceCount), { site: 'backlog' }, hub.url, join(dir, 'agents'));
    await until('the hub holding its site document', async () => (await hub.state()).siteRevision > 0 && (await hub.state()).uplink, 60_000, 200);

    // --- the hub's custody filled ----------------------------------------------------------------
    let sent: number;
    let fill: string;
    let siteAgents: ChildProcess;
    if (cutMinutes > 0) {
      siteAgents = await startAgents(cleanups, dir, 'site-agents', { profile: 'sim-x86-64', startRate: 8, reconnectPeriodMs: RECONNECT_MS, devices: siteDevices });
      await publishModuleDir(central.api, fromRoot('modules-as', 'examples', 'ema'), loadSigningKey(central.fleet.env.WASMFLEET_PUBLISHER_KEY!, 'publisher key'));
      await central.api.post('/api/v1/deployments', {
        module: 'ema',
        version: '1.0.0',
        target: { tags: { site: 'backlog' } },
        config: { every: 1 },
        input: 'temperature',
        strategy: { canary: 0, soakSeconds: 0, ratePerMinute: 0 },
      });
      await until('results from every site device', async () => storedCounts(central.dbPath, 'hb-').batches >= deviceCount * 8, 300_000, 500);
      uplink.cut();
      await until('the uplink seen down at the hub', async () => !(await hub.state()).uplink, 30_000, 100);
      const storedAtCut = storedCounts(central.dbPath, 'hb-').batches;
      await new Promise((resolve) => setTimeout(resolve, cutMinutes * 60_000));
      siteAgents.kill('SIGTERM');
      await new Promise((resolve) => (siteAgents.exitCode !== null ? resolve(null) : siteAgents.once('exit', resolve)));
      const heldAtEnd = await settledBacklog(hub);
      // What SQLite must hold in the end: every batch from the first seq of each device up to its
      // last, which the gap check confirms (agents' spools may keep an unsent tail; it is theirs).
      sent = storedAtCut + heldAtEnd;
      fill = `${cutMinutes}-minute cut with ${deviceCount} agents running ema on every batch (4/s each): ${heldAtEnd.toLocaleString('en-US')} batches held at the hub (${storedAtCut.toLocaleString('en-US')} stored before the cut)`;
    } else {
      const bytes = await fillSpools(siteDevices, perDevice);
      uplink.cut();
      await until('the uplink seen down at the hub', async () => !(await hub.state()).uplink, 30_000, 100);
      const fillStart = performance.now();
      // Paced under the site broker's per-address connection limit (10/s): the agents all come from 127.0.0.1.
      siteAgents = await startAgents(cleanups, dir, 'site-agents', { profile, startRate: 8, reconnectPeriodMs: RECONNECT_MS, devices: siteDevices });
      const expected = deviceCount * perDevice;
      await until('every spooled batch in the hub\'s custody', async () => (await hub.state()).backlog.batches >= expected, 900_000, 250);
      const fillS = (performance.now() - fillStart) / 1000;
      sent = expected;
      fill = `custody filled by the same ${deviceCount} agents flushing ${perDevice.toLocaleString('en-US')} spooled batches each (${POINTS} points, ${Math.round(bytes / expected)} B) into the hub with its uplink cut, ${Math.round(expected / fillS).toLocaleString('en-US')}/s`;
    }
    const held = (await hub.state()).backlog;

    // --- subject: the hub's backlog into SQLite ---------------------------------------------------
    const before = storedCounts(central.dbPath, 'hb-').batches;
    const hubStart = performance.now();
    uplink.restore();
    // Default mode: every batch sent is known. Full mode: custody lets a batch go only on the API's
    // ack, after its commit, so an empty custody means all it held is in SQLite.
    const hubMs =
      cutMinutes > 0
        ? await until('the hub\'s custody empty', async () => (await hub.state()).backlog.batches === 0, 900_000, 100).then(() => performance.now() - hubStart)
        : await untilStored(central, 'hb-', sent, hubStart);
    if (cutMinutes > 0) sent = storedCounts(central.dbPath, 'hb-').batches;
    const hubFlush: Flush = { batches: sent - before, ms: hubMs, ...pointsAndGaps(central, 'hb-') };
    siteAgents.kill('SIGTERM');

    // --- baseline: the agents' own spool flush straight to central --------------------------------
    const direct = await startTcpProxy(cleanups.context, { port: central.fleet.mqttPort }, 0, { localAddress: spreadAddress });
    direct.cut();
    const baselineBatches = hubFlush.batches;
    const baseDevices = await provisionDevices(central, deviceIds('sp-', deviceCount), { bench: 'spool' }, direct.url, join(dir, 'agents'));
    const basePer = Math.ceil(baselineBatches / deviceCount);
    await fillSpools(baseDevices, basePer);
    await startAgents(cleanups, dir, 'direct-agents', { profile, reconnectPeriodMs: RECONNECT_MS, devices: baseDevices });
    const baseStart = performance.now();
    direct.restore();
    const baseMs = await untilStored(central, 'sp-', deviceCount * basePer, baseStart);
    const baseFlush: Flush = { batches: deviceCount * basePer, ms: baseMs, ...pointsAndGaps(central, 'sp-') };

    return [report(hubFlush, baseFlush, held, fill, cutMinutes, deviceCount, sent, central)];
  } finally {
    await cleanups.run();
  }
}

/** The hub's backlog once two reads a second apart agree (the stopped agents' last batches are in). */
async function settledBacklog(hub: HubProcess): Promise<number> {
  let last = -1;
  for (let i = 0; i < 30; i++) {
    const now = (await hub.state()).backlog.batches;
    if (now === last) return now;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return last;
}

function pointsAndGaps(central: Central, prefix: string): { points: number; devicesWithGaps: number } {
  const counts = storedCounts(central.dbPath, prefix, true);
  return { points: counts.points, devicesWithGaps: counts.devicesWithGaps };
}

function report(hub: Flush, base: Flush, held: { batches: number; bytes: number }, fill: string, cutMinutes: number, devices: number, sent: number, central: Central): BenchFigure {
  const total = storedCounts(central.dbPath, 'hb-', true);
  const exact = total.batches === sent && total.devicesWithGaps === 0;
  const noDuplicates = cutMinutes > 0 ? total.devicesWithGaps === 0 : total.points === total.batches * POINTS;
  const accounting =
    cutMinutes > 0
      ? `SQLite: ${total.batches.toLocaleString('en-US')} batches, ${total.devicesWithGaps === 0 ? 'every device gap-free from its first seq to its last' : `${total.devicesWithGaps} devices WITH GAPS`}, the hub's custody empty`
      : `SQLite: ${total.batches.toLocaleString('en-US')} of ${sent.toLocaleString('en-US')} batches sent (${exact ? 'none lost, no gap' : 'MISMATCH'}), ${noDuplicates ? '0 duplicates' : 'DUPLICATES'} (${total.points.toLocaleString('en-US')} point rows)`;
  return figure({
    bench: 'hub-backlog',
    subject: `hub custody → SQLite once the uplink returns: ${held.batches.toLocaleString('en-US')} batches held for ${devices} devices (${(held.bytes / 1024 / 1024).toFixed(1)} MiB), ${cutMinutes > 0 ? 'full mode' : 'default mode'}`,
    baseline: `the agents' own spool flush of ${base.batches.toLocaleString('en-US')} batches (${devices} agents) straight to central`,
    unit: 'results/s',
    subjectValue: hub.batches / (hub.ms / 1000),
    baselineValue: base.batches / (base.ms / 1000),
    note: `higher is better; ${fill}; each timed from its link's restore (TCP proxy) until SQLite holds every batch; ${accounting}; baseline ${base.batches.toLocaleString('en-US')} stored, ${base.devicesWithGaps === 0 && base.points === base.batches * POINTS ? 'exact' : 'MISMATCH'}`,
  });
}
