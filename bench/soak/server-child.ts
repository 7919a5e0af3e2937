/**
 * The soak's server: the one-process platform (`wasmfleet server`: broker, API, SQLite) in a
 * process of its own, as `npm start` runs it, plus a stats line on request.
 *
 * argv[2]: the data directory. stdout: {"ready":{mqttUrl,apiUrl,token}} once listening, then one
 * {"sample":{…ProcessSample, batchesStored}} per {"cmd":"sample"} line on stdin. stdin closing
 * (the bench process gone) or SIGTERM stops the platform and exits.
 */
import { createInterface } from 'node:readline';
import { createLogger } from '../../common/logger.js';
import { startPlatform } from '../../platform/start-platform.js';
import { processSampler, say } from './process-stats.js';

const sample = processSampler();
const logger = createLogger({ component: 'soak-server', level: 'warn' });
const platform = await startPlatform({ dataDir: process.argv[2]!, host: '127.0.0.1', mqttPort: 0, httpPort: 0 }, logger);
say({ ready: { mqttUrl: platform.mqttUrl, apiUrl: platform.apiUrl, token: platform.newAdminToken ?? platform.api.createAdminToken('soak') } });

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await platform.close();
  process.exit(0);
};
const commands = createInterface({ input: process.stdin });
commands.once('close', () => void stop());
commands.on('line', (line) => {
  if ((JSON.parse(line) as { cmd?: string }).cmd === 'sample') say({ sample: { ...sample(), batchesStored: platform.api.ingestion.counters().batchesStored } });
});
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
