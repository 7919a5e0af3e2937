/**
 * The steps the three process compositions (start-platform, start-broker, start-api) share: a
 * broker from the listener options, an API listening on HTTP with its link to a broker URL, the
 * service account and the first admin token. Each step undoes its own half-made work on failure.
 */
import { startBroker, type CredentialVerifier, type RunningBroker } from '../broker/index.js';
import { createFleetApi, type FleetApi, type ServiceAccount, type Store } from '../fleet-api/index.js';
import type { Logger } from '../common/logger.js';
import { SERVICE_USERNAME } from '../protocol/index.js';
import { lockForApi, readSecretFile, serviceSecret, writeSecretFile, type DataDir } from './data-dir.js';
import type { BrokerProcessOptions } from './options.js';

/** The account the API's link connects with; its secret lives in the data directory. */
export const serviceAccountOf = (dataDir: DataDir): ServiceAccount => ({ username: SERVICE_USERNAME, password: serviceSecret(dataDir) });

type BrokerListen = Pick<BrokerProcessOptions, 'host' | 'mqttPort' | 'mqttTcp' | 'mqttTls' | 'allowAnonymous' | 'redis' | 'heartbeatMs'>;

export function startBrokerPart(options: BrokerListen, verifier: CredentialVerifier, logger: Logger): Promise<RunningBroker> {
  const tls = options.mqttTls;
  return startBroker({
    host: options.host,
    port: options.mqttPort,
    tcp: options.mqttTcp,
    allowAnonymous: options.allowAnonymous,
    ...(options.redis ? { redis: options.redis } : {}),
    ...(options.heartbeatMs !== undefined ? { heartbeatIntervalMs: options.heartbeatMs } : {}),
    ...(tls ? { tls: { port: tls.port, certFile: tls.certFile, keyFile: tls.keyFile, caFile: tls.caFile, requireClientCert: tls.requireClientCert } } : {}),
    verifier,
    logger: logger.child({ component: 'broker' }),
  });
}

export interface ApiPartOptions {
  readonly host: string;
  readonly httpPort: number;
  /** The broker URL written into agent configs; the link's URL when absent. */
  readonly publicMqttUrl?: string | undefined;
  /** Several broker nodes for agent configs; the first is the public URL. */
  readonly publicMqttUrls?: readonly string[] | undefined;
  /** Cluster mode: where the API replicates device credentials for the broker nodes. */
  readonly redis?: string | undefined;
  /** The link's broker URL (or several, failed over), and for mqtts:// the CA and (mutual TLS) the service certificate. */
  readonly mqtt: { url: string; urls?: string[]; caFile?: string; certFile?: string; keyFile?: string };
}

export interface ListeningApi {
  readonly api: FleetApi;
  readonly url: string;
}

/** The API on HTTP with its MQTT link; `store` is handed over when the process already opened it. */
export async function startApiPart(dataDir: DataDir, options: ApiPartOptions, service: ServiceAccount, logger: Logger, store?: Store): Promise<ListeningApi> {
  const unlock = lockForApi(dataDir);
  const created = await orUndo(
    () =>
      createFleetApi(
        {
          dbPath: dataDir.dbPath,
          http: { host: options.host, port: options.httpPort },
          ...(options.publicMqttUrl ? { publicMqttUrl: options.publicMqttUrl } : {}),
          ...(options.publicMqttUrls ? { publicMqttUrls: [...options.publicMqttUrls] } : {}),
          ...(options.redis ? { redis: options.redis } : {}),
          // A fixed id gives the API a persistent session (docs/operations.md).
          mqtt: { clientId: 'wf-fleet-api', ...service, ...options.mqtt },
        },
        { logger: logger.child({ component: 'fleet-api' }), ...(store ? { store } : {}) },
      ),
    unlock,
  );
  // The lock is the API's: it goes when the API closes.
  const api: FleetApi = {
    ...created,
    close: async () => {
      await created.close();
      unlock();
    },
  };
  try {
    const { url } = await api.listen();
    return { api, url };
  } catch (error) {
    await api.close();
    throw error;
  }
}

/** On the first start, a new admin token, saved with mode 0600 and returned once; undefined after. */
export function firstAdminToken(dataDir: DataDir, api: FleetApi): string | undefined {
  if (readSecretFile(dataDir.adminTokenPath) !== undefined) return undefined;
  const token = api.createAdminToken();
  writeSecretFile(dataDir.adminTokenPath, token);
  return token;
}

/** Runs `start`; if it throws, runs `undo` (closing what was started before it) and throws again. */
export async function orUndo<T>(start: () => Promise<T>, undo: () => Promise<void> | void): Promise<T> {
  try {
    return await start();
  } catch (error) {
    await undo();
    throw error;
  }
}
