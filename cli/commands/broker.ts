/** `wasmfleet broker`: the MQTT broker alone, admitting devices from the data directory, until SIGINT/SIGTERM; then it exits within PROCESS_STOP_BOUND_MS. */
import type { Argv, CommandModule } from 'yargs';
import { startBrokerProcess } from '../../platform/start-broker.js';
import { createLogger } from '../../common/logger.js';
import { exitWhenStopped, untilShutdownSignal } from '../../common/signals.js';
import type { GlobalArgs } from '../global-options.js';
import { emit } from '../output.js';
import { brokerLines, brokerListenOptions, withBrokerOptions, withDataOptions, type BrokerListenArgs, type DataArgs } from './listener-options.js';

type BrokerArgs = GlobalArgs & DataArgs & BrokerListenArgs;

export const brokerCommand: CommandModule<GlobalArgs, BrokerArgs> = {
  command: 'broker',
  describe: 'Run the MQTT broker alone; `wasmfleet api` on the same data directory connects to it',
  builder: (argv: Argv<GlobalArgs>) =>
    withBrokerOptions(withDataOptions(argv, 'address the MQTT listeners bind to'))
      .example('$0 broker --data ./data --mqtt-port 1883', 'the broker, admitting the devices provisioned in ./data/fleet.db')
      .example('$0 api --data ./data --mqtt-url mqtt://127.0.0.1:1883', '(in another terminal) the API that connects to it') as Argv<BrokerArgs>,
  handler: async (args) => {
    const logger = createLogger({ component: 'platform' });
    const running = await startBrokerProcess(brokerListenOptions(args), logger);
    const { broker, dataDir } = running;
    emit(args.json, { mqtt: broker.url, ...(broker.tlsUrl ? { mqtts: broker.tlsUrl } : {}), dataDir: dataDir.path }, () =>
      ['wasmfleet broker running', ...brokerLines(broker, args), `  data         ${dataDir.path} (devices read from fleet.db)`, 'Press Ctrl-C to stop.'].filter(Boolean).join('\n'),
    );
    const signal = await untilShutdownSignal();
    logger.info('signal received; stopping', { signal });
    exitWhenStopped(
      running.close().then(() => logger.info('broker process stopped')),
      { logger },
    );
  },
};
