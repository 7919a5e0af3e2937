/**
 * `wasmfleet api`: the fleet API, its scheduled jobs and its MQTT link, without a broker. It
 * reaches the broker at `mqttUrl` over MQTT only, as the service account whose secret is in the
 * data directory (a `wasmfleet broker` on the same directory admits it).
 */
import type { FleetApi } from '../fleet-api/index.js';
import { createLogger, type Logger } from '../common/logger.js';
import { openDataDir, type DataDir } from './data-dir.js';
import { resolveApiProcessOptions, type ApiProcessOptions } from './options.js';
import { firstAdminToken, serviceAccountOf, startApiPart } from './parts.js';

export interface RunningApiProcess {
  readonly dataDir: DataDir;
  readonly api: FleetApi;
  readonly apiUrl: string;
  /** Set only on the first start, when the admin token was just created. */
  readonly newAdminToken: string | undefined;
  close(): Promise<void>;
}

export async function startApiProcess(input: Partial<ApiProcessOptions>, logger: Logger = createLogger({ component: 'platform' })): Promise<RunningApiProcess> {
  const options = resolveApiProcessOptions(input);
  const dataDir = openDataDir(options.dataDir);
  const mqtt = {
    url: options.mqttUrls?.[0] ?? options.mqttUrl,
    ...(options.mqttUrls && options.mqttUrls.length > 1 ? { urls: [...options.mqttUrls] } : {}),
    ...(options.mqttCaFile ? { caFile: options.mqttCaFile } : {}),
    ...(options.mqttCertFile ? { certFile: options.mqttCertFile } : {}),
    ...(options.mqttKeyFile ? { keyFile: options.mqttKeyFile } : {}),
  };
  const { api, url: apiUrl } = await startApiPart(dataDir, { ...options, mqtt }, serviceAccountOf(dataDir), logger);
  const newAdminToken = firstAdminToken(dataDir, api);
  logger.info('api process started', { api: apiUrl, mqtt: options.mqttUrl, dataDir: dataDir.path });

  return { dataDir, api, apiUrl, newAdminToken, close: () => api.close() };
}
