#!/usr/bin/env node
/** The `wasmfleet` command line. Every command has --help with an example and --json output. */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { WasmfleetError, isWasmfleetError } from '../common/errors.js';
import { withGlobalOptions, type GlobalArgs } from './global-options.js';
import { serverCommand } from './commands/server.js';
import { brokerCommand } from './commands/broker.js';
import { apiCommand } from './commands/api.js';
import { agentCommand } from './commands/agent.js';
import { hubRunHandler } from './commands/hub-run.js';
import { deviceCommand } from './commands/device.js';
import { hubCommand } from './commands/hub.js';
import { moduleCommand } from './commands/module.js';
import { deployCommand } from './commands/deploy.js';
import { deploymentCommand } from './commands/deployment.js';
import { resultsCommand } from './commands/results.js';
import { queryCommand } from './commands/query.js';
import { demoCommand } from './commands/demo.js';
import { flashCommand } from './commands/flash.js';
import { tokenCommand } from './commands/token.js';
import { auditCommand } from './commands/audit.js';
import { certsCommand } from './commands/certs.js';
import { backupCommand } from './commands/backup.js';
import { keysCommand } from './commands/keys.js';

function reportFailure(error: unknown, json: boolean): void {
  const payload = isWasmfleetError(error)
    ? error.toJSON()
    : { code: 'WF_CLI_INTERNAL', message: error instanceof Error ? error.message : String(error) };
  if (json) process.stdout.write(JSON.stringify({ error: payload }, null, 2) + '\n');
  else process.stderr.write(`error ${String(payload.code)}: ${String(payload.message)}\n`);
}

export function buildCli(argv: string[]): Argv<GlobalArgs> {
  return withGlobalOptions(yargs(argv))
    .scriptName('wasmfleet')
    .usage('$0 <command> [options]\n\nRun sandboxed WebAssembly analytics on fleets of IoT gateways.')
    .command(serverCommand)
    .command(brokerCommand)
    .command(apiCommand)
    .command(agentCommand)
    .command(deviceCommand)
    .command(hubCommand({ handler: hubRunHandler }))
    .command(moduleCommand)
    .command(deployCommand)
    .command(deploymentCommand)
    .command(resultsCommand)
    .command(queryCommand)
    .command(demoCommand)
    .command(flashCommand)
    .command(tokenCommand)
    .command(auditCommand)
    .command(certsCommand)
    .command(backupCommand)
    .command(keysCommand)
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
  await buildCli(args).parseAsync();
} catch (error) {
  reportFailure(error, args.includes('--json'));
  process.exitCode = error instanceof WasmfleetError && error.status < 500 ? 2 : 1;
}
