/** `wasmfleet server`: broker + REST API in one process, until SIGINT/SIGTERM; then it exits within PROCESS_STOP_BOUND_MS. */
import type { Argv, CommandModule } from 'yargs';
import { startPlatform } from '../../platform/start-platform.js';
import { createLogger } from '../../common/logger.js';
import type { GlobalArgs } from '../global-options.js';
import { emit } from '../output.js';
import { exitWhenStopped, untilShutdownSignal } from '../../common/signals.js';
import { apiLines, brokerLines, brokerListenOptions, publicUrlOptions, withApiOptions, withBrokerOptions, withDataOptions, type ApiListenArgs, type BrokerListenArgs, type DataArgs } from './listener-options.js';

type ServerArgs = GlobalArgs & DataArgs & BrokerListenArgs & ApiListenArgs;

export const serverCommand: CommandModule<GlobalArgs, ServerArgs> = {
  command: 'server',
  describe: 'Run the broker and the fleet REST API in one process',
  builder: (argv: Argv<GlobalArgs>) =>
    withApiOptions(withBrokerOptions(withDataOptions(argv, 'address both listeners bind to')))
      .example('$0 server --tls-dir ./data/tls --no-tcp --require-client-cert', 'TLS-only broker with mutual TLS (after `wasmfleet certs init`)')
      .example('$0 server --data ./data --mqtt-port 1883 --http-port 8080 --host 0.0.0.0', 'serve the whole platform on all interfaces') as Argv<ServerArgs>,
  handler: async (args) => {
    const logger = createLogger({ component: 'platform' });
    const platform = await startPlatform(
      {
        ...brokerListenOptions(args),
        httpPort: args['http-port'],
        ...publicUrlOptions(args),
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
      ['wasmfleet platform running', ...brokerLines(platform.broker, args), ...apiLines(platform.apiUrl, platform.dataDir, platform.newAdminToken), 'Press Ctrl-C to stop.']
        .filter(Boolean)
        .join('\n'),
    );
    const signal = await untilShutdownSignal();
    logger.info('signal received; stopping', { signal });
    exitWhenStopped(platform.close(), { logger });
  },
};
