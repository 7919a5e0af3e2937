/**
 * Broker + fleet API in one process on one data directory. Order matters: the store opens first so
 * the broker can verify credentials against it, and the broker listens before the API's MQTT
 * link connects to it. The API closes the store it was handed.
 *
 * close() is bounded (docs/operations.md §Stopping): the API first (jobs, HTTP drained then cut,
 * its MQTT link, the ingest buffer flushed and acked, SQLite closed), then the broker.
 */
import { startBroker, type RunningBroker } from '../broker/index.js';
import { createFleetApi, openStore, storeCredentialVerifier, type FleetApi } from '../fleet-api/index.js';
import { createLogger, type Logger } from '../common/logger.js';
import { runStopSequence, type StopStep } from '../common/stop-sequence.js';
import { SERVICE_USERNAME } from '../protocol/index.js';
import { openDataDir, readSecretFile, serviceSecret, writeSecretFile, type DataDir } from './data-dir.js';
import { resolvePlatformOptions, type PlatformOptions } from './options.js';

/** Per-step budgets in ms; their sum (4 s) stays inside PROCESS_STOP_BOUND_MS (common/signals.ts). */
export const PLATFORM_STOP_BUDGET_MS = { api: 3000, broker: 1000 } as const;

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
function linkTls(options: Readonly<PlatformOptions>, broker: RunningBroker): { url?: string; caFile?: string; certFile?: string; keyFile?: string } {
  const tls = options.mqttTls;
  if (!tls || broker.url !== broker.tlsUrl) return {};
  // A wildcard bind address is no name a certificate can carry; localhost is in every one `certs init` makes.
  const wildcard = options.host === '0.0.0.0' || options.host === '::';
  return {
    ...(wildcard ? { url: `mqtts://localhost:${broker.tlsPort}` } : {}),
    ...(tls.caFile ? { caFile: tls.caFile } : {}),
    ...(tls.requireClientCert && tls.serviceCertFile ? { certFile: tls.serviceCertFile } : {}),
    ...(tls.requireClientCert && tls.serviceKeyFile ? { keyFile: tls.serviceKeyFile } : {}),
  };
}

export async function startPlatform(input: Partial<PlatformOptions>, logger: Logger = createLogger({ component: 'platform' })): Promise<RunningPlatform> {
  const options = resolvePlatformOptions(input);
  const dataDir = openDataDir(options.dataDir);
  const service = { username: SERVICE_USERNAME, password: serviceSecret(dataDir) };

  const store = openStore(dataDir.dbPath);
  let broker: RunningBroker;
  try {
    const tls = options.mqttTls;
    broker = await startBroker({
      host: options.host,
      port: options.mqttPort,
      tcp: options.mqttTcp,
      allowAnonymous: options.allowAnonymous,
      ...(tls ? { tls: { port: tls.port, certFile: tls.certFile, keyFile: tls.keyFile, caFile: tls.caFile, requireClientCert: tls.requireClientCert } } : {}),
      verifier: storeCredentialVerifier(store, service),
      logger: logger.child({ component: 'broker' }),
    });
  } catch (error) {
    store.close();
    throw error;
  }

  let api: FleetApi;
  let listening: { url: string };
  try {
    api = await createFleetApi(
      {
        dbPath: dataDir.dbPath,
        http: { host: options.host, port: options.httpPort },
        publicMqttUrl: options.publicMqttUrl ?? broker.url,
        // A fixed id gives the API a persistent session (docs/operations.md).
        mqtt: { url: broker.url, clientId: 'wf-fleet-api', ...service, ...linkTls(options, broker) },
      },
      { logger: logger.child({ component: 'fleet-api' }), store },
    );
    listening = await api.listen();
  } catch (error) {
    await broker.close();
    store.close();
    throw error;
  }

  let newAdminToken: string | undefined;
  if (readSecretFile(dataDir.adminTokenPath) === undefined) {
    const token: string = api.createAdminToken();
    writeSecretFile(dataDir.adminTokenPath, token);
    newAdminToken = token;
  }
  logger.info('platform started', { mqtt: broker.url, api: listening.url, dataDir: dataDir.path });

  let closed = false;
  return {
    dataDir,
    mqttUrl: broker.url,
    apiUrl: listening.url,
    newAdminToken,
    broker,
    api,
    async close() {
      if (closed) return;
      closed = true;
      const steps: StopStep[] = [
        { name: 'api', maxMs: PLATFORM_STOP_BUDGET_MS.api, run: () => api.close() },
        { name: 'broker', maxMs: PLATFORM_STOP_BUDGET_MS.broker, run: () => broker.close() },
      ];
      const outcome = await runStopSequence(steps, logger);
      logger.info('platform stopped', { stopMs: outcome.elapsedMs, ...(outcome.overran.length > 0 ? { overran: outcome.overran } : {}) });
    },
  };
}
