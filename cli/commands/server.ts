/** `wasmfleet server`: broker + REST API in one process, until SIGINT/SIGTERM. */
import type { Argv, CommandModule } from 'yargs';
import { startPlatform } from '../../platform/start-platform.js';
import { createLogger } from '../../common/logger.js';
import type { GlobalArgs } from '../global-options.js';
import { emit } from '../output.js';
import { untilShutdownSignal } from '../../common/signals.js';

interface ServerArgs extends GlobalArgs {
  data: string;
  host: string;
  'mqtt-port': number;
  'http-port': number;
  'public-mqtt-url'?: string;
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
      .example('$0 server --data ./data --mqtt-port 1883 --http-port 8080 --host 0.0.0.0', 'serve the whole platform on all interfaces') as Argv<ServerArgs>,
  handler: async (args) => {
    const platform = await startPlatform(
      {
        dataDir: args.data,
        host: args.host,
        mqttPort: args['mqtt-port'],
        httpPort: args['http-port'],
        ...(args['public-mqtt-url'] ? { publicMqttUrl: args['public-mqtt-url'] } : {}),
      },
      createLogger({ component: 'platform' }),
    );
    const summary = {
      mqtt: platform.mqttUrl,
      api: platform.apiUrl,
      dataDir: platform.dataDir.path,
      adminTokenFile: platform.dataDir.adminTokenPath,
      ...(platform.newAdminToken ? { adminToken: platform.newAdminToken } : {}),
    };
    emit(args.json, summary, () =>
      [
        `wasmfleet platform running`,
        `  MQTT broker  ${platform.mqttUrl}`,
        `  REST API     ${platform.apiUrl}/api/v1  (OpenAPI: ${platform.apiUrl}/openapi.json)`,
        `  data         ${platform.dataDir.path}`,
        platform.newAdminToken
          ? `  admin token  ${platform.newAdminToken}\n               (shown once; also saved with mode 0600 in ${platform.dataDir.adminTokenPath})`
          : `  admin token  in ${platform.dataDir.adminTokenPath}`,
        `Press Ctrl-C to stop.`,
      ].join('\n'),
    );
    await untilShutdownSignal();
    await platform.close();
  },
};
