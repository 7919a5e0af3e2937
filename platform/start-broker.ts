/**
 * `wasmfleet broker`: the broker alone. It admits devices by reading the data directory's SQLite
 * file read-only (the API beside it is the file's only writer) and the API's link by the service
 * secret in the same directory. Nothing else of the API runs here.
 */
import type { RunningBroker } from '../broker/index.js';
import { openCredentialReader, storeCredentialVerifier } from '../fleet-api/index.js';
import { createRedisCredentialVerifier } from '../broker/redis-verifier.js';
import { createLogger, type Logger } from '../common/logger.js';
import { openDataDir, type DataDir } from './data-dir.js';
import { resolveBrokerProcessOptions, type BrokerProcessOptions } from './options.js';
import { orUndo, serviceAccountOf, startBrokerPart } from './parts.js';

export interface RunningBrokerProcess {
  readonly dataDir: DataDir;
  readonly broker: RunningBroker;
  close(): Promise<void>;
}

export async function startBrokerProcess(input: Partial<BrokerProcessOptions>, logger: Logger = createLogger({ component: 'platform' })): Promise<RunningBrokerProcess> {
  const options = resolveBrokerProcessOptions(input);
  const dataDir = openDataDir(options.dataDir);
  // In cluster mode (docs/scale-out.md) a node needs only Redis: credentials come from the replica
  // the API keeps there, so the node never reads the API's SQLite file or asks the API.
  const reader = options.redis
    ? createRedisCredentialVerifier(options.redis, logger.child({ component: 'broker-credentials' }))
    : openCredentialReader(dataDir.dbPath, logger.child({ component: 'broker-credentials' }));
  const verifier = 'verify' in reader ? reader : storeCredentialVerifier(reader, serviceAccountOf(dataDir));
  const closeReader = async () => {
    await reader.close();
  };
  const broker = await orUndo(() => startBrokerPart(options, verifier, logger), closeReader);
  logger.info('broker process started', { mqtt: broker.url, dataDir: dataDir.path });

  let closed = false;
  return {
    dataDir,
    broker,
    async close() {
      if (closed) return;
      closed = true;
      await broker.close();
      await closeReader();
    },
  };
}
