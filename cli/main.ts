#!/usr/bin/env node
/** The `wasmfleet` command line. Every command has --help with an example and --json output. */
import yargs, { type Argv, type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { WasmfleetError, isWasmfleetError } from '../common/errors.js';
import { withGlobalOptions, type GlobalArgs } from './global-options.js';
import { loadCommands } from './command-loader.js';

function reportFailure(error: unknown, json: boolean): void {
  const payload = isWasmfleetError(error)
    ? error.toJSON()
    : { code: 'WF_CLI_INTERNAL', message: error instanceof Error ? error.message : String(error) };
  if (json) process.stdout.write(JSON.stringify({ error: payload }, null, 2) + '\n');
  else process.stderr.write(`error ${String(payload.code)}: ${String(payload.message)}\n`);
}

export function buildCli(argv: string[], commands: ReadonlyArray<CommandModule<GlobalArgs, any>>): Argv<GlobalArgs> {
  const cli = withGlobalOptions(yargs(argv));
  for (const command of commands) cli.command(command);
  return cli
    .scriptName('wasmfleet')
    .usage('$0 <command> [options]\n\nRun sandboxed WebAssembly analytics on fleets of IoT gateways.')
    .demandCommand(1, 'name a command; see --help')
    .strict()
    .example('$0 demo', 'see the whole loop in under a minute')
    .example('$0 server --data ./data', 'run the platform')
    .epilogue('API address and token: --api/--token or WASMFLEET_API/WASMFLEET_TOKEN. Docs: README.md, docs/.')
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((message, error, instance) => {
      if (error) throw error;
      instance.showHelp('error');
      process.stderr.write(`\n${message}\n`);
      process.exit(2);
    });
}

const args = hideBin(process.argv);
try {
  await buildCli(args, await loadCommands(args)).parseAsync();
} catch (error) {
  reportFailure(error, args.includes('--json'));
  process.exitCode = error instanceof WasmfleetError && error.status < 500 ? 2 : 1;
}
