/**
 * One site hub for the hub benchmarks, in a process of its own: `runHubFromConfigFile`, exactly
 * what `wasmfleet hub --config FILE` runs (hub/main.ts) without the CLI's argument parsing, plus a
 * line on stdin that reads the hub's state, which the CLI does not offer (the bench needs the
 * custody backlog while the uplink is cut, when no HubStatus reaches the centre).
 *
 * argv[2]: the hub config file. stdout: {"ready":{siteRevision}} once running, then one
 * {"state":{siteRevision,uplink,backlog}} per {"cmd":"state"} line. SIGTERM stops it within the
 * hub's own bound (hub/main.ts); stdin closing (the bench process gone) does too.
 */
import { createInterface } from 'node:readline';
import { createLogger } from '../../common/logger.js';
import { exitWhenStopped } from '../../common/signals.js';
import { runHubFromConfigFile } from '../../hub/main.js';

const say = (line: object): void => void process.stdout.write(JSON.stringify(line) + '\n');
const logger = createLogger({ component: 'hub', level: (process.env.WASMFLEET_LOG_LEVEL as 'warn' | undefined) ?? 'warn' });
const hub = await runHubFromConfigFile(process.argv[2]!, { logger });
say({ ready: { siteRevision: hub.siteRevision() } });

const commands = createInterface({ input: process.stdin });
commands.once('close', () => exitWhenStopped(hub.close(), { logger }));
commands.on('line', (line) => {
  if ((JSON.parse(line) as { cmd?: string }).cmd === 'state') say({ state: { siteRevision: hub.siteRevision(), uplink: hub.uplinkConnected, backlog: hub.backlog() } });
});
