/**
 * Golden cases of a module folder: `test/<case>.csv` (input) beside `test/<case>.expected.json`
 * ({ config, batchSize, output }). A case passes when the module's output equals the expected
 * output: names, timestamps and counts exactly, values within 1e-9. Expected files change only
 * when asked (`wasmfleet module test DIR --update`), never silently.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BatchOutput } from '../../../wasm-host/types.js';
import type { ModuleConfig } from '../../../protocol/index.js';
import type { BuiltModule } from './build-module.js';
import { moduleKitErrors } from './errors.js';
import { runModuleOnSamples } from './run-local.js';
import { readSamplesCsv } from './samples-csv.js';

export interface GoldenExpectation {
  config: ModuleConfig;
  batchSize: number;
  output: BatchOutput;
}

export interface GoldenResult {
  readonly name: string;
  readonly passed: boolean;
  /** Readable differences, first ones only; empty when passed. */
  readonly differences: string[];
  readonly updated: boolean;
}

const VALUE_TOLERANCE = 1e-9;

export function goldenCaseNames(dir: string): string[] {
  const testDir = join(dir, 'test');
  if (!existsSync(testDir)) return [];
  return readdirSync(testDir)
    .filter((file) => file.endsWith('.csv') && existsSync(join(testDir, file.replace(/\.csv$/, '.expected.json'))))
    .map((file) => file.replace(/\.csv$/, ''))
    .sort();
}

function readExpectation(path: string): GoldenExpectation {
  let parsed: Partial<GoldenExpectation>;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<GoldenExpectation>;
  } catch (error) {
    throw moduleKitErrors.WF_MODULE_GOLDEN_INVALID({ path, reason: (error as Error).message });
  }
  if (!Number.isInteger(parsed.batchSize) || (parsed.batchSize ?? 0) < 1) throw moduleKitErrors.WF_MODULE_GOLDEN_INVALID({ path, reason: 'batchSize must be a positive integer' });
  if (!parsed.output || !Array.isArray(parsed.output.metrics) || !Array.isArray(parsed.output.events)) {
    throw moduleKitErrors.WF_MODULE_GOLDEN_INVALID({ path, reason: 'output must have metrics and events arrays' });
  }
  return { config: parsed.config ?? {}, batchSize: parsed.batchSize!, output: { ...parsed.output, dropped: parsed.output.dropped ?? 0 } };
}

const close = (a: number, b: number): boolean => a === b || Math.abs(a - b) <= VALUE_TOLERANCE * Math.max(1, Math.abs(b));

export function compareOutputs(actual: BatchOutput, expected: BatchOutput, limit = 5): string[] {
  const differences: string[] = [];
  const note = (text: string) => differences.length < limit && differences.push(text);
  const actualNames = actual.metrics.map((m) => m.name);
  const expectedNames = expected.metrics.map((m) => m.name);
  if (actualNames.join(',') !== expectedNames.join(',')) note(`metrics [${actualNames}] != expected [${expectedNames}]`);
  for (const want of expected.metrics) {
    const got = actual.metrics.find((m) => m.name === want.name)?.points ?? [];
    if (got.length !== want.points.length) note(`metric ${want.name}: ${got.length} points, expected ${want.points.length}`);
    want.points.forEach(([t, v], i) => {
      const point = got[i];
      if (point && (point[0] !== t || !close(point[1], v))) note(`metric ${want.name}[${i}]: [${point[0]}, ${point[1]}], expected [${t}, ${v}]`);
    });
  }
  if (actual.events.length !== expected.events.length) note(`${actual.events.length} events, expected ${expected.events.length}`);
  expected.events.forEach((want, i) => {
    const got = actual.events[i];
    if (got && (got.name !== want.name || got.t !== want.t || !close(got.value, want.value))) {
      note(`event ${i}: ${got.name}@${got.t}=${got.value}, expected ${want.name}@${want.t}=${want.value}`);
    }
  });
  if (actual.dropped !== expected.dropped) note(`dropped ${actual.dropped}, expected ${expected.dropped}`);
  return differences;
}

export async function runGoldenCase(built: BuiltModule, dir: string, name: string, options: { update?: boolean; profile?: string } = {}): Promise<GoldenResult> {
  const expectedPath = join(dir, 'test', `${name}.expected.json`);
  const expectation = readExpectation(expectedPath);
  const samples = readSamplesCsv(join(dir, 'test', `${name}.csv`));
  const output = await runModuleOnSamples(built, samples, { config: expectation.config, batchSize: expectation.batchSize, ...(options.profile ? { profile: options.profile } : {}) });
  if (options.update) {
    writeFileSync(expectedPath, JSON.stringify({ ...expectation, output }, null, 2) + '\n');
    return { name, passed: true, differences: [], updated: true };
  }
  const differences = compareOutputs(output, expectation.output);
  return { name, passed: differences.length === 0, differences, updated: false };
}
