/**
 * `wasmfleet-module build|test|run`: the module kit as a module project runs it (the package's
 * bin, bundled with everything it needs but assemblyscript). The same building, golden cases and
 * sandbox as `wasmfleet module build|test|run`, with no wasmfleet installation.
 */
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isWasmfleetError } from '../../../common/errors.js';
import type { ModuleConfig } from '../../../protocol/index.js';
import { buildModule } from './build-module.js';
import { ensureBuilt } from './ensure-built.js';
import { moduleKitErrors } from './errors.js';
import { goldenCaseNames, runGoldenCase, type GoldenResult } from './golden.js';
import { runModuleOnSamples } from './run-local.js';
import { readSamplesCsv } from './samples-csv.js';

const HELP = `wasmfleet-module <command> [dir] [options]    (dir defaults to .)

Commands:
  build [dir]                 compile with asc to build/release.wasm and check it against the host ABI
  test [dir]                  build, then run every golden case test/<case>.csv against test/<case>.expected.json
  run [dir] --input FILE.csv  run the module on t,value samples and print its results, no broker

Options:
  --debug                     the debug target (asserts, names, source map) instead of release; with
                              test and run a fault names its source line (assembly/index.ts:21 process)
  --update                    test: rewrite the expected files from the module's output (review the diff)
  --input FILE                run: CSV of t,value rows (t in epoch ms)
  --config NAME=VALUE         run: a param value (repeatable)
  --batch-size N              run: samples per batch (default: the profile's batch.maxSamples)
  --profile NAME              test, run: firmware profile whose module limits apply (default sim-x86-64)
  --json                      machine-readable output
  --help                      this text

Examples:
  wasmfleet-module test                                    run this project's golden cases
  wasmfleet-module run . --input pump.csv --config limit=80  a recording of your own
  wasmfleet-module test --debug                            the golden cases, faults with file:line
`;

const OPTIONS: ParseArgsConfig['options'] = {
  debug: { type: 'boolean', default: false },
  update: { type: 'boolean', default: false },
  input: { type: 'string' },
  config: { type: 'string', multiple: true, default: [] },
  'batch-size': { type: 'string' },
  profile: { type: 'string', default: 'sim-x86-64' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

interface Values {
  debug: boolean;
  update: boolean;
  input?: string;
  config: string[];
  'batch-size'?: string;
  profile: string;
  json: boolean;
  help: boolean;
}

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(value, null, 2) : text()}\n`);
}

/** `name=value`: numbers and booleans, as a deployment's config carries them. */
export function parseConfig(pairs: readonly string[]): ModuleConfig {
  const config: ModuleConfig = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const text = pair.slice(eq + 1);
    if (eq <= 0) throw moduleKitErrors.WF_MODULE_USAGE({ reason: `--config expects name=value, got '${pair}'` });
    if (text === 'true' || text === 'false') config[pair.slice(0, eq)] = text === 'true';
    else if (text.trim() !== '' && Number.isFinite(Number(text))) config[pair.slice(0, eq)] = Number(text);
    else throw moduleKitErrors.WF_MODULE_USAGE({ reason: `--config ${pair.slice(0, eq)}: '${text}' is not a number or boolean` });
  }
  return config;
}

async function build(dir: string, values: Values): Promise<void> {
  const built = await buildModule(dir, { debug: values.debug });
  const summary = { name: built.manifest.name, version: built.manifest.version, wasm: built.wasmPath, size: built.bytes.byteLength };
  print(values.json, summary, () => `built ${summary.name}@${summary.version}: ${summary.wasm} (${summary.size} bytes)`);
}

async function test(dir: string, values: Values): Promise<void> {
  const names = goldenCaseNames(dir);
  if (names.length === 0) throw moduleKitErrors.WF_MODULE_USAGE({ reason: `${dir}/test has no <case>.csv with a <case>.expected.json` });
  // Always a fresh build: `npm test` must test the sources as they are now.
  const built = await buildModule(dir, { debug: values.debug });
  const results: GoldenResult[] = [];
  for (const name of names) results.push(await runGoldenCase(built, dir, name, { update: values.update, profile: values.profile }));
  const failed = results.filter((r) => !r.passed).length;
  print(values.json, { module: `${built.manifest.name}@${built.manifest.version}`, passed: results.length - failed, failed, cases: results }, () =>
    [
      ...results.map((r) => (r.updated ? `updated ${r.name}` : r.passed ? `ok      ${r.name}` : `FAILED  ${r.name}\n        ${r.differences.join('\n        ')}`)),
      `${results.length - failed} passed, ${failed} failed`,
    ].join('\n'),
  );
  if (failed > 0) process.exitCode = 1;
}

async function run(dir: string, values: Values): Promise<void> {
  if (!values.input) throw moduleKitErrors.WF_MODULE_USAGE({ reason: 'run needs --input FILE.csv' });
  const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size']);
  if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize > 0)) {
    throw moduleKitErrors.WF_MODULE_USAGE({ reason: `--batch-size must be a positive integer, got '${values['batch-size']}'` });
  }
  const built = values.debug ? await buildModule(dir, { debug: true }) : await ensureBuilt(dir);
  const samples = readSamplesCsv(resolve(values.input));
  const output = await runModuleOnSamples(built, samples, { config: parseConfig(values.config), profile: values.profile, ...(batchSize ? { batchSize } : {}) });
  print(values.json, output, () =>
    [
      ...output.metrics.map((m) => `${m.name}: ${m.points.length} points, last ${m.points.at(-1)?.[1] ?? '-'}`),
      ...output.events.map((e) => `event ${e.name} at ${e.t}: ${e.value}`),
      `${samples.values.length} samples in, ${output.metrics.reduce((n, m) => n + m.points.length, 0)} points and ${output.events.length} events out, ${output.dropped} dropped`,
    ].join('\n'),
  );
}

const COMMANDS = { build, test, run } as const;

export async function main(argv: readonly string[]): Promise<void> {
  let json = argv.includes('--json');
  try {
    const parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    const values = parsed.values as unknown as Values;
    const positionals = parsed.positionals;
    json = values.json;
    const [command, dir = '.', ...extra] = positionals;
    if (values.help || command === undefined || command === 'help') {
      process.stdout.write(HELP);
      if (command === undefined && !values.help) process.exitCode = 1;
      return;
    }
    if (!(command in COMMANDS)) throw moduleKitErrors.WF_MODULE_USAGE({ reason: `unknown command '${command}'` });
    if (extra.length > 0) throw moduleKitErrors.WF_MODULE_USAGE({ reason: `unexpected arguments: ${extra.join(' ')}` });
    await COMMANDS[command as keyof typeof COMMANDS](resolve(dir), values);
  } catch (error) {
    const payload = isWasmfleetError(error) ? error.toJSON() : { code: 'WF_MODULE_USAGE', message: error instanceof Error ? error.message : String(error) };
    if (json) process.stdout.write(`${JSON.stringify({ error: payload }, null, 2)}\n`);
    else process.stderr.write(`error ${String(payload.code)}: ${String(payload.message)}\n`);
    process.exitCode = 1;
  }
}
