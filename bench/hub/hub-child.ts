/**
 * One site hub for the hub benchmarks, in a process of its own: `runHubFromConfigFile`, exactly
 * what `wasmfleet hub --config FILE` runs (hub/main.ts) without the CLI's argument parsing, plus a
 * line on stdin that reads the hub's state, which the CLI does not offer (the bench needs the
 * custody backlog while the uplink is cut, when no HubStatus reaches the centre).
 *
 * argv[2]: the hub config file. stdout: {"ready":{siteRevision}} once running, then one
 * {"state":{siteRevision,uplink,backlog}} per {"cmd":"state"} line; {"cmd":"profile-start"} and
 * {"cmd":"profile-stop","dir":…,"name":…} take a CPU profile over a span (bench/scale/cpu-profile.ts),
 * answered by {"profiled":[top functions by self time]}. SIGTERM stops it within the
 * hub's own bound (hub/main.ts); stdin closing (the bench process gone) does too.
 */
import { createInterface } from 'node:readline';
import { createLogger } from '../../common/logger.js';
import { exitWhenStopped } from '../../common/signals.js';
import { runHubFromConfigFile } from '../../hub/main.js';
import { startProfiling, type Profiling } from '../scale/cpu-profile.js';

const say = (line: object): void => void process.stdout.write(JSON.stringify(line) + '\n');
const logger = createLogger({ component: 'hub', level: (process.env.WASMFLEET_LOG_LEVEL as 'warn' | undefined) ?? 'warn' });
const hub = await runHubFromConfigFile(process.argv[2]!, { logger });
say({ ready: { siteRevision: hub.siteRevision() } });

const commands = createInterface({ input: process.stdin });
commands.once('close', () => exitWhenStopped(hub.close(), { logger }));
let profiling: Profiling | undefined;
commands.on('line', (line) => {
  const command = JSON.parse(line) as { cmd?: string; dir?: string; name?: string };
  if (command.cmd === 'state') say({ state: { siteRevision: hub.siteRevision(), uplink: hub.uplinkConnected, backlog: hub.backlog() } });
  else if (command.cmd === 'profile-start') void startProfiling().then((started) => (profiling = started));
  else if (command.cmd === 'profile-stop' && command.dir && command.name) {
    const running = profiling;
    profiling = undefined;
    void (running?.stop(command.dir, command.name) ?? Promise.resolve([])).then((top) => say({ profiled: top }));
  }
});
