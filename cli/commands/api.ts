/** `wasmfleet api`: the fleet REST API, its jobs and its MQTT link, connecting to a broker URL, until SIGINT/SIGTERM; then it exits within PROCESS_STOP_BOUND_MS. */
import type { Argv, CommandModule } from 'yargs';
import { startApiProcess } from '../../platform/start-api.js';
import { createLogger } from '../../common/logger.js';
import { DEFAULT_MQTT_URL } from '../../common/network-defaults.js';
import { exitWhenStopped, untilShutdownSignal } from '../../common/signals.js';
import type { GlobalArgs } from '../global-options.js';
import { emit } from '../output.js';
import { apiLines, publicUrlOptions, withApiOptions, withDataOptions, type ApiListenArgs, type DataArgs } from './listener-options.js';

interface ApiArgs extends GlobalArgs, DataArgs, ApiListenArgs {
  'mqtt-url': string[];
  redis?: string;
  'mqtt-ca'?: string;
  'mqtt-cert'?: string;
  'mqtt-key'?: string;
}

export const apiCommand: CommandModule<GlobalArgs, ApiArgs> = {
  command: 'api',
  describe: 'Run the fleet REST API and its jobs alone, connected to a broker over MQTT',
  builder: (argv: Argv<GlobalArgs>) =>
    withApiOptions(withDataOptions(argv, 'address the REST API binds to'))
      .option('mqtt-url', { type: 'string', array: true, default: [DEFAULT_MQTT_URL], describe: 'the broker to connect to (mqtt:// or mqtts://); repeat it for several broker nodes: the link fails over along the list' })
      .option('redis', { type: 'string', describe: 'cluster mode: replicate device credentials into this Redis (redis://HOST:PORT) for the broker nodes (docs/scale-out.md)' })
      .option('mqtt-ca', { type: 'string', describe: 'for mqtts://: the CA (PEM) the broker certificate chains to' })
      .option('mqtt-cert', { type: 'string', describe: 'under mutual TLS: the service certificate (PEM, CN wf:fleet-api)' })
      .option('mqtt-key', { type: 'string', describe: 'its private key (PEM)' })
      .example('$0 api --data ./data --mqtt-url mqtt://127.0.0.1:1883 --http-port 8080', 'the API, next to a `wasmfleet broker --data ./data`')
      .example('$0 api --mqtt-url mqtt://node-a:1883 --mqtt-url mqtt://node-b:1883 --redis redis://redis:6379 --public-mqtt-url mqtt://node-a:1883 --public-mqtt-url mqtt://node-b:1883', 'beside two broker nodes on one Redis')
      .example('$0 api --mqtt-url mqtts://broker.plant.lan:8883 --mqtt-ca ./data/tls/ca.crt', 'through the broker\'s TLS listener') as Argv<ApiArgs>,
  handler: async (args) => {
    const logger = createLogger({ component: 'platform' });
    const running = await startApiProcess(
      {
        dataDir: args.data,
        host: args.host,
        httpPort: args['http-port'],
        mqttUrl: args['mqtt-url'][0]!,
        mqttUrls: args['mqtt-url'],
        ...publicUrlOptions(args),
        ...(args.redis ? { redis: args.redis } : {}),
        ...(args['mqtt-ca'] ? { mqttCaFile: args['mqtt-ca'] } : {}),
        ...(args['mqtt-cert'] ? { mqttCertFile: args['mqtt-cert'] } : {}),
        ...(args['mqtt-key'] ? { mqttKeyFile: args['mqtt-key'] } : {}),
      },
      logger,
    );
    const { api, apiUrl, dataDir, newAdminToken } = running;
    const summary = {
      api: apiUrl,
      mqtt: args['mqtt-url'].join(' '),
      mqttConnected: api.link.connected,
      dataDir: dataDir.path,
      adminTokenFile: dataDir.adminTokenPath,
      ...(newAdminToken ? { adminToken: newAdminToken } : {}),
    };
    emit(args.json, summary, () =>
      [
        'wasmfleet api running',
        `  MQTT link    ${args['mqtt-url'].join(' ')} (${api.link.connected ? 'connected' : 'not connected yet; retrying'})`,
        ...apiLines(apiUrl, dataDir, newAdminToken),
        'Press Ctrl-C to stop.',
      ].join('\n'),
    );
    const signal = await untilShutdownSignal();
    logger.info('signal received; stopping', { signal });
    exitWhenStopped(
      running.close().then(() => logger.info('api process stopped')),
      { logger },
    );
  },
};
