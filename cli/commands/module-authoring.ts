/** `wasmfleet module new|test|run`: write, test and run a module locally, with no broker. */
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ensureBuilt } from '../../modules-as/tools/build-examples.js';
import { goldenCaseNames, runGoldenCase, type GoldenResult } from '../../modules-as/sdk/kit/golden.js';
import { runModuleOnSamples } from '../../modules-as/sdk/kit/run-local.js';
import { readSamplesCsv } from '../../modules-as/sdk/kit/samples-csv.js';
import { scaffoldModule } from '../../modules-as/tools/scaffold.js';
import { cliErrors } from '../errors.js';
import { parseConfigValues, type GlobalArgs } from '../global-options.js';
import { emit, progress } from '../output.js';
import { runFuzz } from './module-fuzz.js';
import { buildModule } from '../../modules-as/sdk/kit/build-module.js';

export const newCommand: CommandModule<GlobalArgs, GlobalArgs & { name: string; dir: string }> = {
  command: 'new <name>',
  describe: 'Create a standalone module project (source, manifest, golden test, package.json with the SDK) that passes `npm install && npm test`',
  builder: (argv) =>
    argv
      .positional('name', { type: 'string', demandOption: true, describe: 'module name (lowercase letters, digits, -)' })
      .option('dir', { type: 'string', default: '.', describe: 'parent folder for the new project' })
      .example('$0 module new pump-health && cd pump-health && npm install && npm test', 'create a module project and run its test') as Argv<
      GlobalArgs & { name: string; dir: string }
    >,
  handler: async (args) => {
    const step = progress(1);
    step(`packing the SDK into ${args.name}/vendor`);
    const { dir, sdkTarball } = await scaffoldModule(args.name, args.dir);
    emit(args.json, { name: args.name, dir, sdk: sdkTarball }, () =>
      [`created ${dir}`, `next: cd ${dir} && npm install && npm test`, `      wasmfleet module publish ${dir}`].join('\n'),
    );
  },
};

type TestArgs = GlobalArgs & { dir: string; update: boolean; profile: string; fuzz?: number; seed?: number; debug: boolean };

export const testCommand: CommandModule<GlobalArgs, TestArgs> = {
  command: 'test <dir>',
  describe: "Build a module and run its golden cases (test/<case>.csv against test/<case>.expected.json)",
  builder: (argv) =>
    argv
      .positional('dir', { type: 'string', demandOption: true, describe: 'module folder' })
      .option('update', { type: 'boolean', default: false, describe: "rewrite the expected files from the module's output (review the diff!)" })
      .option('profile', { type: 'string', default: 'sim-x86-64', describe: 'firmware profile whose module limits apply' })
      .option('fuzz', { type: 'number', describe: 'instead of the golden cases, run N random batches (NaN, ±Infinity, -0, huge, tiny, empty) with random params and report traps, overruns, non-finite and undeclared outputs' })
      .option('seed', { type: 'number', describe: 'seed of --fuzz, to reproduce a finding (printed with every run)' })
      .option('debug', { type: 'boolean', default: false, describe: 'use the debug build (source map): faults name the file, line and function' })
      .example('$0 module test modules-as/examples/ema', "run ema's golden cases")
      .example('$0 module test modules-as/examples/ema --fuzz 500 --seed 7', 'fuzz ema with 500 random batches') as Argv<TestArgs>,
  handler: async (args) => {
    const dir = resolve(args.dir);
    if (args.fuzz !== undefined) {
      if (!Number.isInteger(args.fuzz) || args.fuzz < 1 || args.fuzz > 1_000_000) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'fuzz', reason: 'must be an integer from 1 to 1000000' });
      if (args.seed !== undefined && (!Number.isInteger(args.seed) || args.seed < 0 || args.seed >= 2 ** 32)) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'seed', reason: 'must be an integer from 0 to 2^32 - 1' });
      const built = args.debug ? await buildModule(dir, { debug: true }) : await ensureBuilt(dir);
      return runFuzz(built, { json: args.json, fuzz: args.fuzz, profile: args.profile, ...(args.seed !== undefined ? { seed: args.seed } : {}) });
    }
    const names = goldenCaseNames(dir);
    if (names.length === 0) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'dir', reason: `${dir}/test has no <case>.csv with a <case>.expected.json` });
    const step = progress(names.length + 1);
    step(`building ${dir}`);
    const built = args.debug ? await buildModule(dir, { debug: true }) : await ensureBuilt(dir);
    const results: GoldenResult[] = [];
    for (const name of names) {
      step(`case ${name}`);
      results.push(await runGoldenCase(built, dir, name, { update: args.update, profile: args.profile }));
    }
    const failed = results.filter((r) => !r.passed).length;
    emit(args.json, { module: `${built.manifest.name}@${built.manifest.version}`, passed: results.length - failed, failed, cases: results }, () =>
      [
        ...results.map((r) => (r.updated ? `updated ${r.name}` : r.passed ? `ok      ${r.name}` : `FAILED  ${r.name}\n        ${r.differences.join('\n        ')}`)),
        `${results.length - failed} passed, ${failed} failed`,
      ].join('\n'),
    );
    if (failed > 0) process.exitCode = 1;
  },
};

interface RunArgs extends GlobalArgs {
  dir: string;
  input: string;
  config?: string[];
  'batch-size'?: number;
  profile: string;
  debug: boolean;
}

export const runCommand: CommandModule<GlobalArgs, RunArgs> = {
  command: 'run <dir>',
  describe: 'Run a module on a CSV of timestamped samples (t,value; t in epoch ms) and print its results, no broker',
  builder: (argv: Argv<GlobalArgs>) =>
    argv
      .positional('dir', { type: 'string', demandOption: true, describe: 'module folder' })
      .option('input', { type: 'string', demandOption: true, describe: 'CSV file with t,value rows' })
      .option('config', { type: 'string', array: true, describe: 'param=value (repeatable)' })
      .option('batch-size', { type: 'number', describe: "samples per batch (default: the profile's batch.maxSamples)" })
      .option('profile', { type: 'string', default: 'sim-x86-64', describe: 'firmware profile whose module limits apply' })
      .option('debug', { type: 'boolean', default: false, describe: 'use the debug build (source map): a fault names the file, line and function' })
      .example('$0 module run modules-as/examples/zscore --input vibration.csv --config threshold=2.5', 'find anomalies in a recording') as Argv<RunArgs>,
  handler: async (args) => {
    const built = args.debug ? await buildModule(resolve(args.dir), { debug: true }) : await ensureBuilt(resolve(args.dir));
    const samples = readSamplesCsv(resolve(args.input));
    const output = await runModuleOnSamples(built, samples, {
      config: parseConfigValues(args.config),
      profile: args.profile,
      ...(args['batch-size'] ? { batchSize: args['batch-size'] } : {}),
    });
    emit(args.json, output, () =>
      [
        ...output.metrics.map((m) => `${m.name}: ${m.points.length} points, last ${m.points.at(-1)?.[1] ?? '-'}`),
        ...output.events.map((e) => `event ${e.name} at ${e.t}: ${e.value}`),
        `${samples.values.length} samples in, ${output.metrics.reduce((n, m) => n + m.points.length, 0)} points and ${output.events.length} events out, ${output.dropped} dropped`,
      ].join('\n'),
    );
  },
};
