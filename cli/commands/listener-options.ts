/**
 * Flags the commands that start server processes share (`server`, `broker`, `api`), with their
 * defaults from common/network-defaults.ts, so a flag means the same in each.
 */
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { NETWORK_DEFAULTS } from '../../common/network-defaults.js';
import { cliErrors } from '../errors.js';
import { CERT_FILES } from './certs.js';

export interface DataArgs {
  data: string;
  host: string;
}

export interface BrokerListenArgs {
  'mqtt-port': number;
  tcp: boolean;
  'tls-dir'?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
  'tls-port': number;
  'require-client-cert': boolean;
  'allow-anonymous-dev': boolean;
  redis?: string;
  'heartbeat-ms'?: number;
}

export interface ApiListenArgs {
  'http-port': number;
  'public-mqtt-url'?: string[];
}

export function withDataOptions<T>(argv: Argv<T>, hostMeaning: string): Argv<T> {
  return argv
    .option('data', { type: 'string', default: NETWORK_DEFAULTS.dataDir, describe: 'data directory (SQLite file, secrets, keys, admin.token)' })
    .option('host', { type: 'string', default: NETWORK_DEFAULTS.host, describe: hostMeaning });
}

export function withBrokerOptions<T>(argv: Argv<T>): Argv<T> {
  return argv
    .option('mqtt-port', { type: 'number', default: NETWORK_DEFAULTS.mqttPort, describe: 'MQTT port (0 picks a free one)' })
    .option('tcp', { type: 'boolean', default: true, describe: 'plain MQTT on --mqtt-port (--no-tcp: TLS only)' })
    .option('tls-dir', { type: 'string', describe: 'TLS from `wasmfleet certs init --dir DIR`: server.crt/key, ca.crt, service.crt/key' })
    .option('tls-cert', { type: 'string', describe: 'broker certificate (PEM) for the TLS listener' })
    .option('tls-key', { type: 'string', describe: 'its private key (PEM)' })
    .option('tls-ca', { type: 'string', describe: 'CA (PEM) for client certificates and the API link' })
    .option('tls-port', { type: 'number', default: NETWORK_DEFAULTS.mqttTlsPort, describe: 'MQTT over TLS port (0 picks a free one)' })
    .option('require-client-cert', { type: 'boolean', default: false, describe: 'mutual TLS: devices must present a certificate naming them' })
    .option('allow-anonymous-dev', { type: 'boolean', default: false, describe: 'DEVELOPMENT ONLY: MQTT clients without a username may read device reports' })
    .option('redis', { type: 'string', describe: 'cluster mode: one node of a fleet shared through Redis (redis://HOST:PORT), admitting devices from the credentials the API replicates there (docs/scale-out.md)' })
    .option('heartbeat-ms', { type: 'number', describe: 'cluster mode: heartbeat interval (default 60000); a node silent for 3 heartbeats is dead and another node publishes its devices\' wills (their offline status)' });
}

export function withApiOptions<T>(argv: Argv<T>): Argv<T> {
  return argv
    .option('http-port', { type: 'number', default: NETWORK_DEFAULTS.httpPort, describe: 'REST API port (0 picks a free one)' })
    .option('public-mqtt-url', { type: 'string', array: true, describe: 'broker URL written into agent configs (default: the broker the API connects to); repeat it for several broker nodes, agents fail over along the list' });
}

/** The TLS listener from --tls-dir (as `wasmfleet certs init` writes it) and/or the single-file flags. */
export function tlsOptions(args: BrokerListenArgs) {
  const dir = args['tls-dir'];
  const certFile = args['tls-cert'] ?? (dir ? join(dir, CERT_FILES.serverCert) : undefined);
  const keyFile = args['tls-key'] ?? (dir ? join(dir, CERT_FILES.serverKey) : undefined);
  const caFile = args['tls-ca'] ?? (dir ? join(dir, CERT_FILES.caCert) : undefined);
  if (!certFile && !keyFile) {
    if (!args.tcp) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--no-tcp', reason: 'needs a TLS listener: --tls-dir, or --tls-cert and --tls-key' });
    if (args['require-client-cert']) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--require-client-cert', reason: 'needs a TLS listener: --tls-dir, or --tls-cert and --tls-key' });
    return undefined;
  }
  if (!certFile || !keyFile) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: certFile ? '--tls-key' : '--tls-cert', reason: 'TLS needs both a certificate and its key' });
  return {
    port: args['tls-port'],
    certFile: resolve(certFile),
    keyFile: resolve(keyFile),
    ...(caFile ? { caFile: resolve(caFile) } : {}),
    requireClientCert: args['require-client-cert'],
    ...(dir ? { serviceCertFile: resolve(dir, CERT_FILES.serviceCert), serviceKeyFile: resolve(dir, CERT_FILES.serviceKey) } : {}),
  };
}

/** The broker options of a `server` or `broker` command line. */
export function brokerListenOptions(args: DataArgs & BrokerListenArgs) {
  const tls = tlsOptions(args);
  return {
    dataDir: args.data,
    host: args.host,
    mqttPort: args['mqtt-port'],
    mqttTcp: args.tcp,
    allowAnonymous: args['allow-anonymous-dev'],
    ...(args.redis ? { redis: args.redis } : {}),
    ...(args['heartbeat-ms'] !== undefined ? { heartbeatMs: args['heartbeat-ms'] } : {}),
    ...(tls ? { mqttTls: tls } : {}),
  };
}

/** The agent-config URLs of an `api` or `server` command line. */
export const publicUrlOptions = (args: ApiListenArgs) => (args['public-mqtt-url']?.length ? { publicMqttUrls: args['public-mqtt-url'] } : {});

/** The lines a human reads about a running broker. */
export function brokerLines(broker: { port: number; tlsPort: number | undefined; url: string; tlsUrl: string | undefined }, args: BrokerListenArgs): string[] {
  return [
    `  MQTT broker  ${broker.port !== broker.tlsPort ? broker.url : '(plain TCP off)'}`,
    broker.tlsUrl ? `  MQTT TLS     ${broker.tlsUrl}${args['require-client-cert'] ? '  (client certificates required)' : ''}` : '',
    args['allow-anonymous-dev'] ? `  WARNING      anonymous MQTT clients may read device reports (development only)` : '',
  ];
}

/** The lines a human reads about a running API and its admin token. */
export function apiLines(apiUrl: string, dataDir: { path: string; adminTokenPath: string }, newAdminToken: string | undefined): string[] {
  return [
    `  REST API     ${apiUrl}/api/v1  (OpenAPI: ${apiUrl}/openapi.json)`,
    `  data         ${dataDir.path}`,
    newAdminToken
      ? `  admin token  ${newAdminToken}\n               (shown once; also saved with mode 0600 in ${dataDir.adminTokenPath})`
      : `  admin token  in ${dataDir.adminTokenPath}`,
  ];
}
