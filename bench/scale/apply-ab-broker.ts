/**
 * Child of apply-ab.ts: an Aedes broker on a free port with one example module's signed envelope
 * retained, publishing signed desired states on command. stdout: one JSON line
 * {port, trust}, then {published: PREFIX} per command. stdin: "desired PREFIX COUNT" (devices
 * PREFIX-0 … PREFIX-(COUNT-1), revision 1, the module on input temperature); "counts" prints
 * {counts} and resets them: client packets by kind (publishes by topic's last level, subscribes,
 * unsubscribes, acks of the broker's QoS 1 deliveries), for apply-threads.ts.
 */
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { Aedes } from 'aedes';
import { topics } from '../../protocol/index.js';
import { desiredModuleOf, desiredState, envelopeOf, exampleModule, testTrust } from '../../test/agent/helpers.js';

const aedes = await Aedes.createBroker();
const server = createServer(aedes.handle);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const module = exampleModule(process.argv[2] ?? 'ema');
const publish = (topic: string, body: unknown): Promise<void> =>
  new Promise((resolve) => aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(body)), qos: 1, retain: true, dup: false }, () => resolve()));
await publish(topics.module(module.sha256), envelopeOf(module));
process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port, trust: testTrust() }) + '\n');
let counts: Record<string, number> = {};
const count = (kind: string) => (counts[kind] = (counts[kind] ?? 0) + 1);
aedes.on('publish', (packet, client) => client && count(`publish ${packet.topic.split('/').pop()}`));
aedes.on('subscribe', (subs, client) => client && subs.forEach((s) => count(`subscribe ${s.topic.split('/').pop()}`)));
aedes.on('unsubscribe', (subs, client) => client && subs.forEach(() => count('unsubscribe')));
aedes.on('ack', (_packet, client) => client && count('puback to broker'));
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line === 'counts') {
    process.stdout.write(JSON.stringify({ counts }) + '\n');
    counts = {};
    return;
  }
  void (async () => {
    const [, prefix, count] = line.split(' ');
    for (let i = 0; i < Number(count); i++) {
      await publish(topics.device(`${prefix}-${i}`, 'desired'), desiredState(`${prefix}-${i}`, 1, [desiredModuleOf(module, { input: 'temperature' })]));
    }
    process.stdout.write(JSON.stringify({ published: prefix }) + '\n');
  })();
});
lines.once('close', () => process.exit(0));
