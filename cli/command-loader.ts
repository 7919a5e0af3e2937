/**
 * The top-level commands, loaded only when named. Some pull in the whole platform or the
 * AssemblyScript compiler (over a second of CPU to import), which `wasmfleet device list` on a
 * gateway or in a script should not pay. A command word anywhere in the arguments loads that
 * command (an option value that happens to be a command word only loads one more); with none
 * (`wasmfleet --help`, `--version`, a typo) every command is loaded so help and strict mode see
 * them all.
 */
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from './global-options.js';

type AnyCommand = CommandModule<GlobalArgs, any>;

/** In the order `wasmfleet --help` lists them. */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<AnyCommand>]> = [
  ['server', async () => (await import('./commands/server.js')).serverCommand],
  ['broker', async () => (await import('./commands/broker.js')).brokerCommand],
  ['api', async () => (await import('./commands/api.js')).apiCommand],
  ['agent', async () => (await import('./commands/agent.js')).agentCommand],
  ['device', async () => (await import('./commands/device.js')).deviceCommand],
  [
    'hub',
    async () => {
      const [{ hubCommand }, { hubRunHandler }] = await Promise.all([import('./commands/hub.js'), import('./commands/hub-run.js')]);
      return hubCommand({ handler: hubRunHandler });
    },
  ],
  ['module', async () => (await import('./commands/module.js')).moduleCommand],
  ['deploy', async () => (await import('./commands/deploy.js')).deployCommand],
  ['deployment', async () => (await import('./commands/deployment.js')).deploymentCommand],
  ['results', async () => (await import('./commands/results.js')).resultsCommand],
  ['query', async () => (await import('./commands/query.js')).queryCommand],
  ['demo', async () => (await import('./commands/demo.js')).demoCommand],
  ['flash', async () => (await import('./commands/flash.js')).flashCommand],
  ['token', async () => (await import('./commands/token.js')).tokenCommand],
  ['audit', async () => (await import('./commands/audit.js')).auditCommand],
  ['certs', async () => (await import('./commands/certs.js')).certsCommand],
  ['backup', async () => (await import('./commands/backup.js')).backupCommand],
  ['keys', async () => (await import('./commands/keys.js')).keysCommand],
];

export async function loadCommands(args: readonly string[]): Promise<AnyCommand[]> {
  const named = COMMANDS.filter(([name]) => args.includes(name));
  return Promise.all((named.length > 0 ? named : COMMANDS).map(([, load]) => load()));
}
