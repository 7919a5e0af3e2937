/** `wasmfleet hub --config FILE`: a site hub as a foreground process (docs/federation.md). */
import type { Argv, CommandModule } from 'yargs';
import { runHubFromConfigFile } from '../../hub/main.js';
import type { GlobalArgs } from '../global-options.js';
import { emit } from '../output.js';

export interface HubRunArgs extends GlobalArgs {
  config: string;
}

/** Its builder and handler, so `hub` (with add/list/show/remove beside it) can make running the default. */
export const hubRunBuilder = (argv: Argv<GlobalArgs>): Argv<HubRunArgs> =>
  argv
    .option('config', { type: 'string', demandOption: true, describe: 'hub config JSON file (written by `hub add --config-out`)' })
    .example('$0 hub --config ./north.hub.json', 'serve site north: its devices connect here, results go up through this hub') as Argv<HubRunArgs>;

export async function hubRunHandler(args: HubRunArgs): Promise<void> {
  const hub = await runHubFromConfigFile(args.config);
  emit(args.json, { hubId: hub.hubId, mqtt: hub.broker.url, ...(hub.broker.tlsUrl ? { mqtts: hub.broker.tlsUrl } : {}), siteRevision: hub.siteRevision() }, () =>
    [`wasmfleet hub ${hub.hubId} running`, `  site broker  ${hub.broker.tlsUrl ?? hub.broker.url}`, `  site         revision ${hub.siteRevision()}`, 'Press Ctrl-C to stop.'].join('\n'),
  );
}

export const hubRunCommand: CommandModule<GlobalArgs, HubRunArgs> = {
  command: 'hub',
  describe: 'Run a site hub from its config file: a broker for the site\'s devices and one uplink',
  builder: hubRunBuilder,
  handler: hubRunHandler,
};
