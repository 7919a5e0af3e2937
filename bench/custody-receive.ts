/**
 * Hub custody (issue 14): result batches taken into custody and durable (validated by the API's
 * rules, written, fdatasync'd, acknowledgement ready) per second, against the agents' own spool
 * appending the same payloads and syncing as often, measured in the same run on the same disk.
 *
 * - `results`: 20,000 batches each on its own `results` payload, 50 receives in flight (50
 *   devices publishing live); the baseline spool syncs after every 50 appends.
 * - `spooled`: 50,000 batches as SpooledResults of 500, 4 in flight (devices flushing their
 *   spools to the hub after a reconnect); the baseline syncs after every 2,000 appends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../common/logger.js';
import { Spool } from '../device-agent/spool/spool.js';
import { openResultCustody } from '../hub/custody/index.js';
import { PROTOCOL_VERSION, type ResultBatch } from '../protocol/index.js';
import { figure, median, type BenchFigure } from './figure.js';

const ROUNDS = 3;
const DEVICES = 50;

function batchOf(deviceId: string, seq: number): ResultBatch {
  const t = 1_700_000_000_000 + seq * 250;
  return {
    v: PROTOCOL_VERSION, deviceId, seq, module: 'ema', version: '1.0.0', deploymentId: 'bench-custody',
    input: { source: 'temperature', firstSeq: seq * 25, count: 25, from: t - 250, to: t },
    metrics: [{ name: 'ema', points: Array.from({ length: 8 }, (_, i) => [t + i, 21.5 + (seq % 100) / 100] as [number, number]) }],
    events: [], dropped: 0,
  };
}

interface Load {
  /** Payloads in order; each receive names its device and channel. */
  readonly payloads: { deviceId: string; channel: 'results' | 'spooled'; payload: Buffer; batches: Buffer[]; seqs: number[] }[];
  readonly inFlight: number;
  readonly batches: number;
}

function liveLoad(batches: number): Load {
  const payloads = Array.from({ length: batches }, (_, i) => {
    const deviceId = `gw-${i % DEVICES}`;
    const seq = Math.floor(i / DEVICES);
    const payload = Buffer.from(JSON.stringify(batchOf(deviceId, seq)));
    return { deviceId, channel: 'results' as const, payload, batches: [payload], seqs: [seq] };
  });
  return { payloads, inFlight: DEVICES, batches };
}

function spooledLoad(batches: number, perPayload: number): Load {
  const payloads: Load['payloads'] = [];
  for (let i = 0; i * perPayload < batches; i++) {
    const deviceId = `gw-${i % DEVICES}`;
    const first = Math.floor(i / DEVICES) * perPayload;
    const items = Array.from({ length: perPayload }, (_, k) => batchOf(deviceId, first + k));
    payloads.push({
      deviceId, channel: 'spooled', payload: Buffer.from(JSON.stringify({ v: PROTOCOL_VERSION, deviceId, batches: items })),
      batches: items.map((item) => Buffer.from(JSON.stringify(item))), seqs: items.map((item) => item.seq),
    });
  }
  return { payloads, inFlight: 4, batches };
}

async function custodyRate(load: Load): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-custody-'));
  try {
    const custody = await openResultCustody({ dir, maxBytes: 4 * 1024 * 1024 * 1024, maxAgeMs: 3_600_000, logger: silentLogger });
    let next = 0;
    let acked = 0;
    const start = performance.now();
    const worker = async () => {
      while (next < load.payloads.length) {
        const item = load.payloads[next++]!;
        const ack = await custody.receive(item.deviceId, item.channel, item.payload);
        for (const [first, last] of ack?.stored ?? []) acked += last - first + 1;
      }
    };
    await Promise.all(Array.from({ length: load.inFlight }, worker));
    const seconds = (performance.now() - start) / 1000;
    await custody.close();
    if (acked !== load.batches) throw new Error(`custody acknowledged ${acked} of ${load.batches}`);
    return load.batches / seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The agents' spool, one per device as on the gateways, syncing after as many appends as custody has in flight. */
async function spoolRate(load: Load): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-spool-'));
  try {
    const spools = new Map<string, Spool>();
    const spoolOf = (deviceId: string) => {
      let spool = spools.get(deviceId);
      if (!spool) spools.set(deviceId, (spool = new Spool(join(dir, deviceId), { maxBytes: 1024 * 1024 * 1024, maxAgeS: 3600, logger: silentLogger, fsyncIntervalMs: 60_000 })));
      return spool;
    };
    for (const item of load.payloads) spoolOf(item.deviceId);
    const start = performance.now();
    for (let i = 0; i < load.payloads.length; i += load.inFlight) {
      const group = load.payloads.slice(i, i + load.inFlight);
      for (const item of group) item.batches.forEach((bytes, k) => spoolOf(item.deviceId).append(item.seqs[k]!, bytes));
      await Promise.all([...new Set(group.map((item) => item.deviceId))].map((deviceId) => spoolOf(deviceId).sync()));
    }
    const seconds = (performance.now() - start) / 1000;
    for (const spool of spools.values()) await spool.close();
    return load.batches / seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchCustodyReceive(): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [];
  for (const [row, load] of [
    ['results', liveLoad(20_000)],
    ['spooled', spooledLoad(50_000, 500)],
  ] as const) {
    const subject: number[] = [];
    const baseline: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      baseline.push(await spoolRate(load));
      subject.push(await custodyRate(load));
    }
    figures.push(
      figure({
        bench: `custody-receive/${row}`,
        subject: `hub custody receive → durable (${row}, ${load.inFlight} in flight)`,
        baseline: 'agent spool append + sync, same payloads',
        unit: 'batches/s',
        subjectValue: Math.round(median(subject)),
        baselineValue: Math.round(median(baseline)),
        note: 'higher is better; custody also validates every batch (schema) and holds 50 devices in one log',
      }),
    );
  }
  return figures;
}
