/**
 * `wasmfleet hub --config FILE`: a site hub as a foreground process (docs/federation.md). The
 * `hub` command (cli/commands/hub.ts) runs this when no subcommand is named.
 */
import { runHubFromConfigFile } from '../../hub/main.js';
import type { GlobalArgs } from '../global-options.js';
import { emit } from '../output.js';

export interface HubRunArgs extends GlobalArgs {
  config: string;
}

export async function hubRunHandler(args: HubRunArgs): Promise<void> {
  const hub = await runHubFromConfigFile(args.config);
  emit(args.json, { hubId: hub.hubId, mqtt: hub.broker.url, ...(hub.broker.tlsUrl ? { mqtts: hub.broker.tlsUrl } : {}), siteRevision: hub.siteRevision() }, () =>
    [`wasmfleet hub ${hub.hubId} running`, `  site broker  ${hub.broker.tlsUrl ?? hub.broker.url}`, `  site         revision ${hub.siteRevision()}`, 'Press Ctrl-C to stop.'].join('\n'),
  );
}
