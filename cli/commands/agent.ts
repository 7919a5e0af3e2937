/** `wasmfleet agent --config FILE`: the device agent as a foreground process. */
import type { Argv, CommandModule } from 'yargs';
import { runAgentFromConfigFile } from '../../device-agent/main.js';
import type { GlobalArgs } from '../global-options.js';

interface AgentArgs extends GlobalArgs {
  config: string;
}

export const agentCommand: CommandModule<GlobalArgs, AgentArgs> = {
  command: 'agent',
  describe: 'Run a device agent from its config file (written by `device add --agent-config`)',
  builder: (argv: Argv<GlobalArgs>) =>
    argv
      .option('config', { type: 'string', demandOption: true, describe: 'agent config JSON file' })
      .example('$0 agent --config ./gw-01.agent.json', 'connect as gw-01 and run its desired modules') as Argv<AgentArgs>,
  handler: async (args) => {
    await runAgentFromConfigFile(args.config);
  },
};
