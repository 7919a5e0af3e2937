/** `wasmfleet server`: broker + REST API in one process, until SIGINT/SIGTERM; then it exits within PROCESS_STOP_BOUND_MS. */
import type { Argv, CommandModule } from 'yargs';
import { startPlatform } from '../../platform/start-platform.js';
import { createLogger } from '../../common/logger.js';
import type { GlobalArgs } from '../global-options.js';
import { emit } from '../output.js';
import { exitWhenStopped, untilShutdownSignal } from '../../common/signals.js';
import { join, resolve } from 'node:path';
import { cliErrors } from '../errors.js';
import { CERT_FILES } from './certs.js';

interface ServerArgs extends GlobalArgs {
  data: string;
  host: string;
  'mqtt-port': number;
  'http-port': number;
  'public-mqtt-url'?: string;
  tcp: boolean;
  'tls-dir'?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
  'tls-port': number;
  'require-client-cert': boolean;
  'allow-anonymous-dev': boolean;
}

/** The TLS listener from --tls-dir (as `wasmfleet certs init` writes it) and/or the single-file flags. */
function tlsOptions(args: ServerArgs) {
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

export const serverCommand: CommandModule<GlobalArgs, ServerArgs> = {
  command: 'server',
  describe: 'Run the broker and the fleet REST API in one process',
  builder: (argv: Argv<GlobalArgs>) =>
    argv
      .option('data', { type: 'string', default: './data', describe: 'data directory (SQLite file, secrets, admin.token)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address both listeners bind to' })
      .option('mqtt-port', { type: 'number', default: 1883, describe: 'MQTT port (0 picks a free one)' })
      .option('http-port', { type: 'number', default: 8080, describe: 'REST API port (0 picks a free one)' })
      .option('public-mqtt-url', { type: 'string', describe: 'broker URL written into agent configs (default: the bound address)' })
      .option('tcp', { type: 'boolean', default: true, describe: 'plain MQTT on --mqtt-port (--no-tcp: TLS only)' })
      .option('tls-dir', { type: 'string', describe: 'TLS from `wasmfleet certs init --dir DIR`: server.crt/key, ca.crt, service.crt/key' })
      .option('tls-cert', { type: 'string', describe: 'broker certificate (PEM) for the TLS listener' })
      .option('tls-key', { type: 'string', describe: 'its private key (PEM)' })
      .option('tls-ca', { type: 'string', describe: 'CA (PEM) for client certificates and the API link' })
      .option('tls-port', { type: 'number', default: 8883, describe: 'MQTT over TLS port (0 picks a free one)' })
      .option('require-client-cert', { type: 'boolean', default: false, describe: 'mutual TLS: devices must present a certificate naming them' })
      .option('allow-anonymous-dev', { type: 'boolean', default: false, describe: 'DEVELOPMENT ONLY: MQTT clients without a username may read device reports' })
      .example('$0 server --tls-dir ./data/tls --no-tcp --require-client-cert', 'TLS-only broker with mutual TLS (after `wasmfleet certs init`)')
      .example('$0 server --data ./data --mqtt-port 1883 --http-port 8080 --host 0.0.0.0', 'serve the whole platform on all interfaces') as Argv<ServerArgs>,
  handler: async (args) => {
    const tls = tlsOptions(args);
    const logger = createLogger({ component: 'platform' });
    const platform = await startPlatform(
      {
        dataDir: args.data,
        host: args.host,
        mqttPort: args['mqtt-port'],
        httpPort: args['http-port'],
        ...(args['public-mqtt-url'] ? { publicMqttUrl: args['public-mqtt-url'] } : {}),
        mqttTcp: args.tcp,
        allowAnonymous: args['allow-anonymous-dev'],
        ...(tls ? { mqttTls: tls } : {}),
      },
      logger,
    );
    const summary = {
      mqtt: platform.mqttUrl,
      ...(platform.broker.tlsUrl ? { mqtts: platform.broker.tlsUrl } : {}),
      api: platform.apiUrl,
      dataDir: platform.dataDir.path,
      adminTokenFile: platform.dataDir.adminTokenPath,
      ...(platform.newAdminToken ? { adminToken: platform.newAdminToken } : {}),
    };
    emit(args.json, summary, () =>
      [
        `wasmfleet platform running`,
        `  MQTT broker  ${platform.broker.port !== platform.broker.tlsPort ? platform.broker.url : '(plain TCP off)'}`,
        platform.broker.tlsUrl ? `  MQTT TLS     ${platform.broker.tlsUrl}${args['require-client-cert'] ? '  (client certificates required)' : ''}` : '',
        args['allow-anonymous-dev'] ? `  WARNING      anonymous MQTT clients may read device reports (development only)` : '',
        `  REST API     ${platform.apiUrl}/api/v1  (OpenAPI: ${platform.apiUrl}/openapi.json)`,
        `  data         ${platform.dataDir.path}`,
        platform.newAdminToken
          ? `  admin token  ${platform.newAdminToken}\n               (shown once; also saved with mode 0600 in ${platform.dataDir.adminTokenPath})`
          : `  admin token  in ${platform.dataDir.adminTokenPath}`,
        `Press Ctrl-C to stop.`,
      ]
        .filter(Boolean)
        .join('\n'),
    );
    const signal = await untilShutdownSignal();
    logger.info('signal received; stopping', { signal });
    exitWhenStopped(platform.close(), { logger });
  },
};
