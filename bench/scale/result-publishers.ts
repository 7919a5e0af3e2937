/**
 * Result publishers for the ingest-under-query bench: many devices (mqtt.js clients) in one
 * process, each publishing ResultBatches (QoS 1, one metric of POINTS points) as fast as the
 * platform acknowledges them: at most WINDOW batches per device await the API's ack (sent once the
 * batch is committed to SQLite), so the rate is what broker, ingestion and SQLite sustain together.
 *
 * argv[2]: a JSON file { url, addresses, devices: [{ id, password }], points, window }.
 * stdout: `{ connected }` once every device is connected and subscribed to its ack topic; then each
 * stdin line `go MS` publishes for MS milliseconds and answers `{ points, batches, seconds }`
 * acknowledged within that span. Stops (every client ended) when stdin closes or on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { connect } from 'node:net';
import { MqttClient } from 'mqtt';
import { decodePayload, encodePayload, PROTOCOL_VERSION, topics, type ResultBatch } from '../../protocol/index.js';

interface Spec {
  url: string;
  addresses: string[];
  devices: Array<{ id: string; password: string }>;
  points: number;
  window: number;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
const port = Number(new URL(spec.url).port);
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

function batchOf(deviceId: string, seq: number): ResultBatch {
  const t = 1_700_000_000_000 + seq * 1000;
  return {
    v: PROTOCOL_VERSION, deviceId, seq, module: 'ema', version: '1.0.0', deploymentId: 'bench-ingest',
    input: { source: 'temperature', firstSeq: seq * spec.points, count: spec.points, from: t - 1000, to: t },
    metrics: [{ name: 'ema', points: Array.from({ length: spec.points }, (_, i) => [t - 1000 + i, 21.5 + i / 100] as [number, number]) }],
    events: [], dropped: 0,
  };
}

interface Device {
  readonly id: string;
  readonly client: MqttClient;
  readonly pending: Set<number>;
  nextSeq: number;
}

let running = false;
let ackedBatches = 0;
const devices: Device[] = [];

function fill(device: Device): void {
  while (running && device.pending.size < spec.window) {
    const seq = device.nextSeq++;
    device.pending.add(seq);
    device.client.publish(topics.device(device.id, 'results'), encodePayload('results', batchOf(device.id, seq)), { qos: 1 });
  }
}

// Connected 50 at a time, each from its source address: the broker's per-address connection limits stay at their defaults.
for (let i = 0; i < spec.devices.length; i += 50) {
  const group = spec.devices.slice(i, i + 50);
  devices.push(
    ...(await Promise.all(
      group.map(async ({ id, password }, j) => {
        // mqtt.js's TCP transport takes no source address, so the stream is built here.
        const client = new MqttClient(() => connect({ port, host: '127.0.0.1', localAddress: spec.addresses[(i + j) % spec.addresses.length]! }), { protocolVersion: 4, clientId: id, username: id, password, reconnectPeriod: 0, keepalive: 60 });
        await new Promise<void>((resolve, reject) => {
          client.once('connect', () => resolve());
          client.once('error', reject);
          client.once('close', () => reject(new Error(`${id}: connection closed before CONNACK`)));
        });
        const device: Device = { id, client, pending: new Set(), nextSeq: 0 };
        await client.subscribeAsync(topics.device(id, 'ack'), { qos: 1 });
        client.on('message', (_topic, payload) => {
          const decoded = decodePayload('ack', payload);
          if (!decoded.ok) return;
          for (const [first, last] of decoded.value.stored) {
            for (let seq = first; seq <= last; seq++) if (device.pending.delete(seq)) ackedBatches += 1;
          }
          fill(device);
        });
        return device;
      }),
    )),
  );
}
say({ connected: devices.length });

const stop = async () => {
  running = false;
  await Promise.allSettled(devices.map((device) => device.client.endAsync(true)));
  process.exit(0);
};
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const ms = Number(line.split(' ')[1]);
  const before = ackedBatches;
  const started = performance.now();
  running = true;
  for (const device of devices) fill(device);
  setTimeout(() => {
    running = false;
    const batches = ackedBatches - before;
    say({ batches, points: batches * spec.points, seconds: (performance.now() - started) / 1000 });
  }, ms);
});
lines.once('close', () => void stop());
process.once('SIGTERM', () => void stop());
