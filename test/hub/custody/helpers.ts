/** Shared by the custody tests: result payloads, a temp dir, a logger that keeps its lines, an upstream double. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createLogger, type Logger } from '../../../common/logger.js';
import { openResultCustody, type ResultCustody, type ResultCustodyOptions } from '../../../hub/custody/index.js';
import { decodePayload, parseTopic, type ResultBatch } from '../../../protocol/index.js';

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'wf-custody-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A valid ResultBatch; `points` makes it larger. */
export function batch(deviceId: string, seq: number, points = 1): ResultBatch {
  const t = 1_763_892_000_000 + seq;
  return {
    v: 1, deviceId, seq, module: 'ema', version: '1.0.0', deploymentId: 'dep_1',
    input: { source: 'temperature', firstSeq: seq * 10, count: 10, from: t, to: t + 100 },
    metrics: [{ name: 'ema', points: Array.from({ length: points }, (_, i) => [t + i, 21.5 + seq / 100] as [number, number]) }],
    events: [],
    dropped: 0,
  };
}

export const resultsPayload = (deviceId: string, seq: number): Buffer => Buffer.from(JSON.stringify(batch(deviceId, seq)));

export function spooledPayload(deviceId: string, items: readonly unknown[]): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, deviceId, batches: items }));
}

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

export interface LogLine {
  level: string;
  msg: string;
}

export function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}

export async function openCustody(t: TestContext, dir: string, options: Partial<ResultCustodyOptions> = {}): Promise<ResultCustody> {
  const custody = await openResultCustody({ dir, maxBytes: 64 * 1024 * 1024, maxAgeMs: 3_600_000, logger: capturingLogger().logger, ...options });
  t.after(() => custody.close());
  return custody;
}

/** One publish as the upstream broker got it: its device, and the seqs it carried, in order. */
export interface Published {
  deviceId: string;
  channel: 'results' | 'spooled';
  seqs: number[];
}

/** Decodes what custody sent upstream exactly as the API would. */
export function published(topic: string, payload: Buffer): Published {
  const parsed = parseTopic(topic);
  if (!parsed || parsed.kind !== 'device' || (parsed.channel !== 'results' && parsed.channel !== 'spooled')) throw new Error(`not a results topic: ${topic}`);
  if (parsed.channel === 'results') {
    const decoded = decodePayload('results', payload);
    if (!decoded.ok) throw new Error(decoded.error.message);
    return { deviceId: parsed.deviceId, channel: 'results', seqs: [decoded.value.seq] };
  }
  const decoded = decodePayload('spooled', payload);
  if (!decoded.ok) throw new Error(decoded.error.message);
  if (decoded.value.deviceId !== parsed.deviceId || decoded.value.batches.some((b) => b.deviceId !== parsed.deviceId)) throw new Error('device mismatch');
  return { deviceId: parsed.deviceId, channel: 'spooled', seqs: decoded.value.batches.map((b) => b.seq) };
}

/** Waits until `check` holds, polling; fails after `ms` (generous: no timing is asserted). */
export async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
