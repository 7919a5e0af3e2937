/**
 * Golden vectors for the example modules: `examples/<name>/test/<case>.csv` (input, header
 * `t,value`) and `<case>.expected.json` (config, batchSize, and the concatenated output of the
 * JS reference over that input in batches of batchSize). Running this file is the explicit
 * regeneration step; tests only read and compare, so a golden file never changes silently.
 *
 *   node dist/modules-as/tools/golden-from-reference.js <moduleDir> [--case NAME]
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ModuleConfig } from '../../protocol/index.js';
import type { BatchOutput } from '../../wasm-host/types.js';
import { batchesOf, referenceFor, temperatureSignal, vibrationSignal, type Signal } from '../reference/index.js';

export interface GoldenCase {
  readonly name: string;
  readonly config: ModuleConfig;
  readonly batchSize: number;
  readonly signal: () => Signal;
}

export interface GoldenExpected {
  readonly config: ModuleConfig;
  readonly batchSize: number;
  readonly output: BatchOutput;
}

/** A golden case as stored on disk. */
export interface GoldenFiles {
  readonly name: string;
  readonly signal: Signal;
  readonly expected: GoldenExpected;
}

const DECIMALS = 6;

/** Values cut to DECIMALS so the CSV holds them exactly and stays small. */
function rounded(signal: Signal): Signal {
  return { timestamps: signal.timestamps, values: signal.values.map((v) => Number(v.toFixed(DECIMALS))) };
}

const temperature = (samples: number, seed: number) => (): Signal => rounded(temperatureSignal({ samples, seed }));

/** The cases per module. Changing one here changes nothing on disk until this tool is run. */
export const GOLDEN_CASES: Readonly<Record<string, readonly GoldenCase[]>> = {
  ema: [
    { name: 'default', config: {}, batchSize: 100, signal: temperature(1500, 11) },
    { name: 'fast', config: { alpha: 0.35, every: 3 }, batchSize: 64, signal: temperature(600, 12) },
  ],
  threshold: [{ name: 'default', config: {}, batchSize: 64, signal: temperature(1500, 13) }],
  zscore: [{ name: 'default', config: {}, batchSize: 128, signal: temperature(2000, 14) }],
  vibration: [
    {
      name: 'sim-400hz',
      config: { window: 256 },
      batchSize: 100,
      signal: () => vibrationSignal({ samples: 2048, tones: [{ hz: 50, amplitude: 0.8 }], noise: 0.1, seed: 21 }),
    },
    {
      name: 'window-100',
      config: { window: 100 },
      batchSize: 33,
      signal: () =>
        vibrationSignal({ samples: 1000, tones: [{ hz: 50, amplitude: 0.5 }, { hz: 13, amplitude: 0.2 }], seed: 22 }),
    },
  ],
  fft: [
    {
      name: 'sines-50hz',
      config: { window: 256, rateHz: 400 },
      batchSize: 100,
      signal: () =>
        vibrationSignal({ samples: 2048, tones: [{ hz: 50, amplitude: 0.8 }, { hz: 120, amplitude: 0.3 }], seed: 31 }),
    },
    {
      name: 'sines-100hz-offset',
      config: { window: 512, rateHz: 400 },
      batchSize: 300,
      signal: () =>
        vibrationSignal({
          samples: 2048,
          tones: [{ hz: 100, amplitude: 0.5 }, { hz: 30, amplitude: 0.2 }],
          offset: 1,
          seed: 32,
        }),
    },
  ],
  downsample: [
    { name: 'default', config: {}, batchSize: 37, signal: temperature(1200, 41) },
    {
      name: 'window-64',
      config: { window: 64 },
      batchSize: 200,
      signal: () => vibrationSignal({ samples: 1024, tones: [{ hz: 7, amplitude: 1 }], seed: 42 }),
    },
  ],
};

export function formatCsv(signal: Signal): string {
  const lines = ['t,value'];
  for (let i = 0; i < signal.values.length; i++) lines.push(`${signal.timestamps[i]},${signal.values[i]}`);
  return `${lines.join('\n')}\n`;
}

export function parseCsv(text: string, where = 'csv'): Signal {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines[0]?.trim() !== 't,value') throw new Error(`${where}: header must be 't,value'`);
  const rows = lines.slice(1);
  const timestamps = new Float64Array(rows.length);
  const values = new Float64Array(rows.length);
  rows.forEach((row, i) => {
    const [t, v, extra] = row.split(',');
    const time = Number(t);
    const value = Number(v);
    if (extra !== undefined || t === undefined || v === undefined || !Number.isFinite(time) || Number.isNaN(value)) {
      throw new Error(`${where}:${i + 2}: expected 't,value', got '${row}'`);
    }
    timestamps[i] = time;
    values[i] = value;
  });
  return { timestamps, values };
}

/** All batches as one output: metrics merged by name in order of first appearance, events in order. */
export function concatOutputs(outputs: Iterable<BatchOutput>): BatchOutput {
  const metrics = new Map<string, [number, number][]>();
  const events: BatchOutput['events'] = [];
  let dropped = 0;
  for (const output of outputs) {
    for (const { name, points } of output.metrics) {
      let all = metrics.get(name);
      if (!all) metrics.set(name, (all = []));
      for (const [t, v] of points) all.push([t, v]);
    }
    for (const { name, t, value } of output.events) events.push({ name, t, value });
    dropped += output.dropped;
  }
  return { metrics: [...metrics].map(([name, points]) => ({ name, points })), events, dropped };
}

export function expectedFromReference(moduleName: string, config: ModuleConfig, batchSize: number, signal: Signal): GoldenExpected {
  const reference = referenceFor(moduleName, config);
  const outputs: BatchOutput[] = [];
  for (const batch of batchesOf(signal, [batchSize])) outputs.push(reference.process(batch.timestamps, batch.values));
  return { config, batchSize, output: concatOutputs(outputs) };
}

/** JSON with each [t, v] point on one line, so a diff of a regenerated file stays readable. */
export function formatExpected(expected: GoldenExpected): string {
  const json = JSON.stringify(expected, null, 2).replace(/\[\s+([^\s,[\]{}]+),\s+([^\s,[\]{}]+)\s+\]/g, '[$1, $2]');
  return `${json}\n`;
}

function goldenDir(moduleDir: string): string {
  return join(moduleDir, 'test');
}

/** The golden cases stored in a module folder, in name order. */
export function readGoldenFiles(moduleDir: string): GoldenFiles[] {
  const dir = goldenDir(moduleDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.expected.json'))
    .sort()
    .map((file) => {
      const name = file.slice(0, -'.expected.json'.length);
      const csvPath = join(dir, `${name}.csv`);
      return {
        name,
        signal: parseCsv(readFileSync(csvPath, 'utf8'), csvPath),
        expected: JSON.parse(readFileSync(join(dir, file), 'utf8')) as GoldenExpected,
      };
    });
}

/** Writes the golden files of one module (or one case); returns what happened to each file. */
export function writeGoldenFiles(moduleDir: string, only?: string): string[] {
  const moduleName = basename(resolve(moduleDir));
  const cases = GOLDEN_CASES[moduleName];
  if (!cases) throw new Error(`no golden cases defined for module '${moduleName}'`);
  const selected = only === undefined ? cases : cases.filter((c) => c.name === only);
  if (selected.length === 0) throw new Error(`module '${moduleName}' has no golden case '${only}'`);
  const dir = goldenDir(moduleDir);
  mkdirSync(dir, { recursive: true });
  const report: string[] = [];
  for (const golden of selected) {
    const signal = golden.signal();
    const expected = expectedFromReference(moduleName, golden.config, golden.batchSize, signal);
    for (const [file, text] of [
      [`${golden.name}.csv`, formatCsv(signal)],
      [`${golden.name}.expected.json`, formatExpected(expected)],
    ] as const) {
      const path = join(dir, file);
      const before = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
      if (before !== text) writeFileSync(path, text);
      report.push(`${before === undefined ? 'created' : before === text ? 'unchanged' : 'UPDATED'} ${path} (${text.length} bytes)`);
    }
  }
  return report;
}

function main(argv: readonly string[]): void {
  const caseAt = argv.indexOf('--case');
  const only = caseAt >= 0 ? argv[caseAt + 1] : undefined;
  const positional = caseAt >= 0 ? argv.filter((_, i) => i !== caseAt && i !== caseAt + 1) : argv;
  if (positional.length !== 1 || (caseAt >= 0 && only === undefined)) {
    console.error('usage: golden-from-reference <moduleDir> [--case NAME]');
    process.exitCode = 2;
    return;
  }
  for (const line of writeGoldenFiles(positional[0]!, only)) console.log(line);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
