#!/usr/bin/env node
// Same-run A/B measures of the broker and the API link's MQTT costs (issue 16 item 5), CPU from the
// measured process itself. Each DIST is a built dist/ directory (copy one aside before a change).
//   node scripts/broker-ab.mjs packets N ROUNDS label=DIST [label=DIST...]
//     A broker (startBroker of that DIST, in its own process) carries a rollout's packets for N
//     devices: the service publishes N retained desired states; each device then publishes its
//     status, fetches a 6 KB retained module (subscribe, message, unsubscribe), reports twice and
//     sends three result batches, each acknowledged by the service on the device's ack topic.
//     Prints the broker's CPU per device for each round (order rotates per round) and the medians.
//   node scripts/broker-ab.mjs receive ROUNDS DIST
//     An mqtt.js subscriber in its own process takes 40,000 QoS 1 messages from 50 publishers
//     through DIST's broker, with and without its writes coalesced per turn
//     (common/coalesced-writes.ts); prints its CPU per message.
//   node scripts/broker-ab.mjs outgoing ROUNDS DIST [DIST...]
//     A persistent session's outgoing queue in each DIST's single-node persistence
//     (broker/retained-index.ts): 60,000 messages enqueued, given a message id and cleared with
//     2,000 in flight, as the API's link takes the fleet's messages; CPU per message, in process.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';

const self = fileURLToPath(import.meta.url);
const [mode, ...args] = process.argv.slice(2);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const lineReader = (stream) => {
  const lines = createInterface({ input: stream });
  return () => new Promise((resolve) => lines.once('line', resolve));
};

async function brokerChild(dist) {
  const { startBroker } = await import(`${dist}/broker/index.js`);
  const { silentLogger } = await import(`${dist}/common/logger.js`);
  const verifier = { verify: async (username) => (username === 'wf-fleet-api' ? { kind: 'service', name: username } : { kind: 'device', deviceId: username }) };
  const broker = await startBroker({
    host: '127.0.0.1', port: 0, verifier, logger: silentLogger,
    publishRatePerSec: 100_000, publishBurst: 1_000_000, servicePublishRatePerSec: 1_000_000, servicePublishBurst: 1_000_000,
    connectRatePerAddress: 0, connectRateGlobal: 0,
  });
  process.stdout.write(`${broker.port}\n`);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', () => {
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${user + system}\n`);
  });
  process.stdin.on('end', () => void broker.close().then(() => process.exit(0)));
}

function startBrokerChild(dist) {
  const child = spawn(process.execPath, [self, 'broker', dist], { stdio: ['pipe', 'pipe', 'inherit'] });
  return { child, next: lineReader(child.stdout) };
}

async function packetsRound(dist, n) {
  const { child, next } = startBrokerChild(dist);
  const url = `mqtt://127.0.0.1:${await next()}`;
  const sha = 'ab'.repeat(32);
  const service = mqtt.connect(url, { clientId: 'wf-fleet-api', username: 'wf-fleet-api', password: 'x', clean: false, reconnectPeriod: 0 });
  await new Promise((resolve) => service.once('connect', resolve));
  await service.subscribeAsync(['wf/v1/devices/+/reported', 'wf/v1/devices/+/status', 'wf/v1/devices/+/results'], { qos: 1 });
  await service.publishAsync(`wf/v1/modules/${sha}`, Buffer.alloc(6000, 7), { qos: 1, retain: true });
  let reported = 0, results = 0, acks = 0, finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const check = () => reported === 2 * n && results === 3 * n && acks === 3 * n && finish();
  service.on('message', (topic) => {
    const [, , , id, channel] = topic.split('/');
    if (channel === 'reported') reported += 1;
    if (channel === 'results') {
      results += 1;
      service.publish(`wf/v1/devices/${id}/ack`, Buffer.alloc(60, 1), { qos: 1 });
    }
    check();
  });
  const devices = [];
  for (let i = 0; i < n; i++) {
    const id = `dev-${i}`;
    const c = mqtt.connect(url, { clientId: id, username: id, password: 'x', reconnectPeriod: 0, keepalive: 600 });
    c.on('error', () => {});
    devices.push(c);
    c.on('connect', () => c.subscribe([`wf/v1/devices/${id}/desired`, `wf/v1/devices/${id}/ack`], { qos: 1 }));
    c.on('message', (topic) => {
      if (topic.endsWith('/desired')) {
        c.publish(`wf/v1/devices/${id}/status`, Buffer.alloc(120, 2), { qos: 1, retain: true });
        c.subscribe(`wf/v1/modules/${sha}`, { qos: 1 });
      } else if (topic.startsWith('wf/v1/modules/')) {
        c.unsubscribe(`wf/v1/modules/${sha}`);
        c.publish(`wf/v1/devices/${id}/reported`, Buffer.alloc(500, 3), { qos: 1, retain: true });
        setTimeout(() => {
          c.publish(`wf/v1/devices/${id}/reported`, Buffer.alloc(520, 3), { qos: 1, retain: true });
          for (let k = 0; k < 3; k++) setTimeout(() => c.publish(`wf/v1/devices/${id}/results`, Buffer.alloc(300, 4), { qos: 1 }), k * 100);
        }, 50);
      } else if (topic.endsWith('/ack')) {
        acks += 1;
        check();
      }
    });
    if (i % 200 === 199) await sleep(50);
  }
  while (devices.some((c) => !c.connected)) await sleep(50);
  await sleep(500);
  child.stdin.write('cpu\n');
  const cpu0 = Number(await next());
  for (let i = 0; i < n; i++) service.publish(`wf/v1/devices/dev-${i}/desired`, Buffer.alloc(1200, 5), { qos: 1, retain: true });
  await finished;
  child.stdin.write('cpu\n');
  const cpu1 = Number(await next());
  for (const c of devices) c.end(true);
  service.end(true);
  child.stdin.end();
  await new Promise((resolve) => child.once('exit', resolve));
  return (cpu1 - cpu0) / 1000 / n;
}

async function receiver(url, count, coalesce) {
  const { coalesceWrites } = await import(new URL('../dist/common/coalesced-writes.js', import.meta.url).href);
  const client = mqtt.connect(url, { clientId: `rx-${process.pid}`, username: 'wf-fleet-api', password: 'x', clean: true });
  client.on('connect', async () => {
    if (coalesce === '1') coalesceWrites(client.stream);
    await client.subscribeAsync('wf/v1/devices/+/results', { qos: 1 });
    process.stdout.write('ready\n');
  });
  let got = 0, cpu0;
  client.on('message', () => {
    if (got === 0) cpu0 = process.cpuUsage();
    if (++got === Number(count)) {
      const used = process.cpuUsage(cpu0);
      process.stdout.write(`${((used.user + used.system) / Number(count)).toFixed(2)}\n`);
      client.end(true, () => process.exit(0));
    }
  });
}

if (mode === 'broker') await brokerChild(args[0]);
else if (mode === 'rx') await receiver(...args);
else if (mode === 'packets') {
  const [n, rounds, ...variants] = args;
  const pairs = variants.map((v) => v.split('='));
  const results = new Map(pairs.map(([label]) => [label, []]));
  for (let round = 0; round < Number(rounds); round++) {
    for (let k = 0; k < pairs.length; k++) {
      const [label, dist] = pairs[(k + round) % pairs.length];
      const ms = await packetsRound(dist, Number(n));
      results.get(label).push(ms);
      console.log(`round ${round} ${label}: ${ms.toFixed(4)} ms broker CPU per device`);
    }
  }
  const base = median(results.get(pairs[0][0]));
  for (const [label, list] of results) console.log(`${label}: median ${median(list).toFixed(4)} ms, ${(median(list) / base).toFixed(3)}x`);
  process.exit(0);
} else if (mode === 'receive') {
  const [rounds, dist] = args;
  const count = 40_000;
  const { child, next } = startBrokerChild(dist);
  const url = `mqtt://127.0.0.1:${await next()}`;
  const publishers = await Promise.all(Array.from({ length: 50 }, (_, i) => mqtt.connectAsync(url, { clientId: `dev-${i}`, username: `dev-${i}`, password: 'x' })));
  const results = { 0: [], 1: [] };
  for (let round = 0; round < Number(rounds); round++) {
    for (const coalesce of round % 2 ? ['1', '0'] : ['0', '1']) {
      const rx = spawn(process.execPath, [self, 'rx', url, String(count), coalesce], { stdio: ['ignore', 'pipe', 'inherit'] });
      const nextLine = lineReader(rx.stdout);
      await nextLine();
      const done = nextLine();
      for (let k = 0; k < count / publishers.length; k++) {
        await Promise.all(publishers.map((p, i) => p.publishAsync(`wf/v1/devices/dev-${i}/results`, Buffer.alloc(300, 1), { qos: 1 })));
      }
      const us = Number(await done);
      results[coalesce].push(us);
      console.log(`round ${round} ${coalesce === '1' ? 'coalesced' : 'plain'}: ${us} us CPU per message`);
    }
  }
  console.log(`plain: median ${median(results[0])} us, coalesced: ${median(results[1])} us, ${(median(results[1]) / median(results[0])).toFixed(3)}x`);
  for (const p of publishers) p.end(true);
  child.stdin.end();
  await sleep(1000);
  process.exit(0);
} else if (mode === 'outgoing') {
  const [rounds, ...dists] = args;
  const modules = await Promise.all(dists.map((dist) => import(`${dist}/broker/retained-index.js`)));
  const call = (start) => new Promise((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value))));
  const outgoingRound = async (module) => {
    const persistence = module.indexedMemoryPersistence();
    persistence.broker = { id: 'b1' };
    await new Promise((resolve) => persistence.once('ready', resolve));
    const subs = [{ clientId: 'wf-fleet-api' }];
    const client = { id: 'wf-fleet-api' };
    const count = 60_000;
    const inFlight = [];
    let messageId = 0;
    const cpu0 = process.cpuUsage();
    for (let i = 1; i <= count; i++) {
      const packet = { cmd: 'publish', topic: `wf/v1/devices/d${i % 10_000}/status`, payload: Buffer.alloc(100), qos: 1, retain: false, brokerId: 'b1', brokerCounter: i };
      await call((done) => persistence.outgoingEnqueueCombi(subs, packet, done));
      const sent = { ...packet, messageId: (messageId = (messageId % 65_535) + 1) };
      await call((done) => persistence.outgoingUpdate(client, sent, done));
      inFlight.push(sent);
      if (inFlight.length > 2000) {
        const acked = inFlight.shift();
        await call((done) => persistence.outgoingClearMessageId(client, acked, done));
      }
    }
    const used = process.cpuUsage(cpu0);
    return (used.user + used.system) / count;
  };
  const results = dists.map(() => []);
  for (let round = 0; round < Number(rounds); round++) {
    for (let k = 0; k < dists.length; k++) {
      const i = (k + round) % dists.length;
      results[i].push(await outgoingRound(modules[i]));
    }
  }
  dists.forEach((dist, i) => console.log(`${dist}: median ${median(results[i]).toFixed(2)} us per message, ${(median(results[i]) / median(results[0])).toFixed(3)}x`));
  process.exit(0);
} else {
  process.stderr.write('usage: broker-ab.mjs packets N ROUNDS label=DIST... | receive ROUNDS DIST | outgoing ROUNDS DIST...\n');
  process.exit(2);
}
