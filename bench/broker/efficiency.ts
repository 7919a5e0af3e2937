/**
 * Broker efficiency: our broker (authentication, ACL, packet size guard, publish rate limits and
 * revocation on) against bare Aedes with its defaults, each in its own process, in the same run.
 * Load: 10 device publishers, QoS 1, 64-byte payloads on their own results topics, each keeping
 * a window of unacknowledged publishes; one service subscriber on wf/v1/devices/+/results (QoS 1).
 * A round ends when the subscriber has received every message. Figures: messages delivered per
 * broker CPU-second (utime + stime from /proc/<pid>/stat) and per wall-clock second; rounds
 * alternate between the two brokers so both see the same disturbances; median of the rounds.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { performance } from 'node:perf_hooks';
import { SERVICE_USERNAME } from '../../protocol/ids.js';
import { topics } from '../../protocol/topics.js';
import { figure, median, type BenchFigure } from '../figure.js';
import { startBrokerChild, type BrokerChild, type BrokerKind } from './broker-child.js';

const PUBLISHERS = 10;
const MESSAGES_PER_PUBLISHER = Number(process.env.WF_BENCH_BROKER_MESSAGES ?? 5000);
const WINDOW = 32;
export const ROUNDS = 5;
const PAYLOAD = Buffer.alloc(64, 0x61);

export interface RoundResult {
  readonly messages: number;
  readonly cpuSeconds: number;
  readonly wallSeconds: number;
}

function connect(url: string, clientId: string, child: BrokerChild, username: string): Promise<MqttClient> {
  const password = child.credentials[username];
  const client = mqtt.connect(url, {
    clientId,
    ...(password !== undefined ? { username, password } : {}),
    protocolVersion: 4,
    reconnectPeriod: 0,
    clean: true,
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

/** Publishes `count` QoS 1 messages keeping `WINDOW` unacknowledged. */
function publishAll(client: MqttClient, topic: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let acked = 0;
    const next = (): void => {
      if (sent >= count) return;
      sent += 1;
      client.publish(topic, PAYLOAD, { qos: 1 }, (error) => {
        if (error) return reject(error);
        acked += 1;
        if (acked === count) resolve();
        else next();
      });
    };
    for (let i = 0; i < WINDOW; i += 1) next();
  });
}

export async function round(child: BrokerChild): Promise<RoundResult> {
  const url = `mqtt://127.0.0.1:${child.port}`;
  const subscriber = await connect(url, 'bench-service', child, SERVICE_USERNAME);
  await subscriber.subscribeAsync(topics.allDevices('results'), { qos: 1 });
  const publishers = await Promise.all(
    Array.from({ length: PUBLISHERS }, (_, i) => connect(url, `bench-${i}`, child, `bench-${i}`)),
  );
  const total = PUBLISHERS * MESSAGES_PER_PUBLISHER;
  let received = 0;
  const allReceived = new Promise<void>((resolve) => {
    subscriber.on('message', () => {
      received += 1;
      if (received === total) resolve();
    });
  });
  const cpuBefore = child.cpuSeconds();
  const started = performance.now();
  await Promise.all(publishers.map((p, i) => publishAll(p, topics.device(`bench-${i}`, 'results'), MESSAGES_PER_PUBLISHER)));
  await allReceived;
  const wallSeconds = (performance.now() - started) / 1000;
  const cpuSeconds = child.cpuSeconds() - cpuBefore;
  await Promise.all([...publishers, subscriber].map((c) => c.endAsync()));
  return { messages: total, cpuSeconds, wallSeconds };
}

export async function measureBrokers(): Promise<Record<'ours' | 'bare', RoundResult[]>> {
  const results: Record<'ours' | 'bare', RoundResult[]> = { ours: [], bare: [] };
  const children = { bare: await startBrokerChild('bare'), ours: await startBrokerChild('ours') };
  try {
    // One warm-up round each (JIT, connection set-up), not counted.
    for (const kind of ['bare', 'ours'] as const) await round(children[kind]);
    for (let i = 0; i < ROUNDS; i += 1) {
      for (const kind of ['bare', 'ours'] as const) results[kind].push(await round(children[kind]));
    }
  } finally {
    await Promise.all([children.bare.stop(), children.ours.stop()]);
  }
  return results;
}

/** The load of one round, for the notes of every suite that runs it. */
export const loadLabel = (): string =>
  `${PUBLISHERS} publishers × ${MESSAGES_PER_PUBLISHER.toLocaleString('en-US')} QoS 1 64-byte results (window ${WINDOW}), 1 subscriber on +/results`;

export async function benchBrokerEfficiency(): Promise<BenchFigure[]> {
  const results = await measureBrokers();
  const perCpu = (kind: 'ours' | 'bare') => median(results[kind].map((r) => r.messages / r.cpuSeconds));
  const perWall = (kind: 'ours' | 'bare') => median(results[kind].map((r) => r.messages / r.wallSeconds));
  const load = `${loadLabel()}; median of ${ROUNDS} alternating rounds`;
  return [
    figure({
      bench: 'broker-efficiency/per-cpu-second',
      subject: 'our broker (auth, ACL, packet size guard, rate limits above the load, revocation), own process',
      baseline: 'bare Aedes 1.2 defaults, own process',
      unit: 'messages delivered per broker CPU-s',
      subjectValue: perCpu('ours'),
      baselineValue: perCpu('bare'),
      note: `higher is better; issue 16 asks for at least 0.9; ${load}; CPU = utime + stime from /proc/<pid>/stat`,
    }),
    figure({
      bench: 'broker-efficiency/throughput',
      subject: 'our broker, same load',
      baseline: 'bare Aedes 1.2, same load',
      unit: 'messages delivered/s',
      subjectValue: perWall('ours'),
      baselineValue: perWall('bare'),
      note: 'higher is better; issue 16 asks for at least 0.9; clients share one bench process, so its CPU bounds both',
    }),
  ];
}

/** `node efficiency.js profile ours|bare [DIR]`: one broker under --cpu-prof for three rounds. */
if (process.argv[2] === 'profile') {
  const kind = (process.argv[3] ?? 'ours') as BrokerKind;
  const child = await startBrokerChild(kind, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${process.argv[4] ?? '.'}`] });
  try {
    for (let i = 0; i < 3; i += 1) {
      const r = await round(child);
      process.stdout.write(`${kind}: ${Math.round(r.messages / r.cpuSeconds)} messages per CPU-s\n`);
    }
  } finally {
    await child.stop();
  }
}
