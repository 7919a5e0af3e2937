/**
 * The reported state goes out when it says something new: a scheduled report (a burst of module
 * changes, a loss, a heartbeat while results are pending) that would repeat the last one, time
 * aside, is not sent; publishNow (an apply, a refusal, a connect) always is. Real Aedes broker,
 * real mqtt.js clients.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { silentLogger } from '../../common/logger.js';
import { StateReporter } from '../../device-agent/reporter.js';
import { PROTOCOL_VERSION, topics, type ReportedState } from '../../protocol/index.js';
import { connectClient, startBroker, until } from './helpers.js';

const DEVICE = 'gw-report';

test('a scheduled report that says nothing new is not sent; publishNow always is', async (t) => {
  const broker = await startBroker(t);
  const observer = await connectClient(t, broker.url, 'observer');
  const received: ReportedState[] = [];
  observer.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString()) as ReportedState));
  await observer.subscribeAsync(topics.device(DEVICE, 'reported'), { qos: 1 });
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: DEVICE, reconnectPeriod: 0 });
  t.after(() => client.endAsync(true));

  let pending = 0;
  let revision = 1;
  const snapshot = (): ReportedState => ({
    v: PROTOCOL_VERSION,
    deviceId: DEVICE,
    revision,
    at: new Date().toISOString(),
    agent: { version: '0.0.0', profile: 'sim-x86-64', arch: 'x64' },
    modules: [],
    spool: { pending, bytes: 0, droppedFull: 0, droppedAge: 0, torn: 0, writeFailures: 0, lost: 0, refused: 0, droppedRanges: [] },
    errors: [],
  });
  const reporter = new StateReporter(client, { deviceId: DEVICE, heartbeatMs: 60_000, logger: silentLogger, snapshot, pendingResults: () => pending });
  t.after(() => reporter.close());

  reporter.publishNow();
  await until(() => received.length === 1, 5000, 'the first report');
  // A burst, then a heartbeat's refresh, with nothing changed: the time alone differs.
  reporter.schedule();
  await until(() => reporter.stats().unchanged === 1, 5000, 'the scheduled report judged');
  reporter.schedule();
  await until(() => reporter.stats().unchanged === 2, 5000, 'the next one too');
  pending = 3;
  reporter.schedule();
  await until(() => received.length === 2, 5000, 'a changed report goes out');
  assert.equal(received[1]!.spool!.pending, 3);
  reporter.publishNow();
  await until(() => received.length === 3, 5000, 'publishNow goes out even when nothing changed');
  revision = 2;
  reporter.scheduleLossReport();
  await until(() => received.length === 4, 10_000, 'a loss report that says something new goes out');
  assert.deepEqual(received.map((r) => r.revision), [1, 1, 1, 2]);
  assert.deepEqual(reporter.stats(), { published: 4, unchanged: 2 });
});
