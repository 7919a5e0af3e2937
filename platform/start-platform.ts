/**
 * `wasmfleet server`: broker + fleet API in one process on one data directory. Order matters:
 * the store opens first so the broker can verify credentials against it, and the broker listens
 * before the API's MQTT link connects to it. The store is this file's: it closes last.
 *
 * close() is bounded (docs/operations.md §Stopping) and closes the store only once nothing can
 * reach it: the API first (jobs, HTTP drained then cut, its MQTT link, the ingest buffer flushed),
 * while the broker still answers its link; then the broker (listeners closed, clients disconnected,
 * sockets cut), so no CONNECT and no hub publish asks the store any more; then the store, once the
 * credential checks already under way have settled; then the Redis credential client.
 */
import type { RunningBroker } from '../broker/index.js';
import { openStore, storeCredentialVerifier, type FleetApi } from '../fleet-api/index.js';
import { createRedisCredentialVerifier } from '../broker/redis-verifier.js';
import { createLogger, type Logger } from '../common/logger.js';
import { runStopSequence, type StopStep } from '../common/stop-sequence.js';
import { openDataDir, type DataDir } from './data-dir.js';
import { resolvePlatformOptions, type PlatformOptions } from './options.js';
import { firstAdminToken, orUndo, serviceAccountOf, startApiPart, startBrokerPart, type ApiPartOptions } from './parts.js';
import { guardStore } from './store-guard.js';

/**
 * Per-step budgets in ms; their sum (4.4 s) stays inside PROCESS_STOP_BOUND_MS (common/signals.ts).
 * Closing SQLite is synchronous (its budget bounds the wait for credential checks under way); the
 * Redis credential client (cluster mode only) closes by dropping its socket. Both need little.
 */
export const PLATFORM_STOP_BUDGET_MS = { api: 3000, broker: 1000, store: 200, credentials: 200 } as const;

export interface RunningPlatform {
  readonly dataDir: DataDir;
  readonly mqttUrl: string;
  readonly apiUrl: string;
  /** Set only on the first start, when the admin token was just created. */
  readonly newAdminToken: string | undefined;
  readonly broker: RunningBroker;
  readonly api: FleetApi;
  close(): Promise<void>;
}

/** TLS-only: the API's own link goes over TLS too, trusting the CA and, under mTLS, presenting the service certificate. */
function linkTo(options: Readonly<PlatformOptions>, broker: RunningBroker): ApiPartOptions['mqtt'] {
  const tls = options.mqttTls;
  if (!tls || broker.url !== broker.tlsUrl) return { url: broker.url };
  // A wildcard bind address is no name a certificate can carry; localhost is in every one `certs init` makes.
  const wildcard = options.host === '0.0.0.0' || options.host === '::';
  return {
    url: wildcard ? `mqtts://localhost:${broker.tlsPort}` : broker.url,
    ...(tls.caFile ? { caFile: tls.caFile } : {}),
    ...(tls.requireClientCert && tls.serviceCertFile ? { certFile: tls.serviceCertFile } : {}),
    ...(tls.requireClientCert && tls.serviceKeyFile ? { keyFile: tls.serviceKeyFile } : {}),
  };
}

export async function startPlatform(input: Partial<PlatformOptions>, logger: Logger = createLogger({ component: 'platform' })): Promise<RunningPlatform> {
  const options = resolvePlatformOptions(input);
  const dataDir = openDataDir(options.dataDir);
  const service = serviceAccountOf(dataDir);
  // Ingestion commits at rate here: WAL checkpoints on their own thread, not in its commits.
  const store = openStore(dataDir.dbPath, { checkpointInBackground: { onProblem: (reason) => logger.warn('wal checkpoints', { reason }) } });
  // In cluster mode the embedded node reads credentials from Redis like every other node.
  const redisVerifier = options.redis ? createRedisCredentialVerifier(options.redis, logger.child({ component: 'broker-credentials' })) : undefined;
  const guard = guardStore(redisVerifier ?? storeCredentialVerifier(store, service));
  const broker = await orUndo(
    () => startBrokerPart(options, guard.verifier, logger),
    async () => {
      await redisVerifier?.close();
      store.close();
    },
  );
  const publicMqttUrl = options.publicMqttUrl ?? options.publicMqttUrls?.[0] ?? broker.url;
  const { api, url: apiUrl } = await orUndo(
    () => startApiPart(dataDir, { ...options, publicMqttUrl, mqtt: linkTo(options, broker) }, service, logger, store),
    async () => {
      await broker.close();
      await redisVerifier?.close();
      await guard.closing(PLATFORM_STOP_BUDGET_MS.store);
      store.close();
    },
  );
  const newAdminToken = firstAdminToken(dataDir, api);
  logger.info('platform started', { mqtt: broker.url, api: apiUrl, dataDir: dataDir.path });

  let closed = false;
  return {
    dataDir,
    mqttUrl: broker.url,
    apiUrl,
    newAdminToken,
    broker,
    api,
    async close() {
      if (closed) return;
      closed = true;
      const steps: StopStep[] = [
        { name: 'api', maxMs: PLATFORM_STOP_BUDGET_MS.api, run: () => api.close() },
        { name: 'broker', maxMs: PLATFORM_STOP_BUDGET_MS.broker, run: () => broker.close() },
        {
          name: 'store',
          maxMs: PLATFORM_STOP_BUDGET_MS.store,
          run: async () => {
            // A check stuck past half the budget does not keep SQLite open: the process is exiting.
            await guard.closing(PLATFORM_STOP_BUDGET_MS.store / 2);
            store.close();
          },
        },
        { name: 'credentials', maxMs: PLATFORM_STOP_BUDGET_MS.credentials, run: async () => redisVerifier?.close() },
      ];
      const outcome = await runStopSequence(steps, logger);
      logger.info('platform stopped', { stopMs: outcome.elapsedMs, ...(outcome.overran.length > 0 ? { overran: outcome.overran } : {}) });
    },
  };
}
