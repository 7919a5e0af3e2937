/**
 * Reconnect storm: N devices CONNECT at once to one broker node (Redis, credential replica, real
 * HMAC-SHA-256 secrets) against the same storm on bare Aedes with no authentication, each broker
 * in its own process. Figures: seconds from the first CONNECT to the last CONNACK, and broker
 * CPU-seconds per 1,000 CONNECTs. Clients are raw TCP sockets sending a pre-encoded CONNECT, so
 * the bench process costs the broker nothing it would not pay for real devices.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect as tcpConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import mqttPacket from 'mqtt-packet';
import { Redis } from 'ioredis';
import { deviceCredentialKey, writeCredential } from '../common/redis-credentials.js';
import { generateSecret, hashSecretSync } from '../common/secrets.js';
import { startRedis } from '../test/helpers/redis.js';
import { figure, type BenchFigure } from './figure.js';

const DEVICES = Number(process.env.WF_BENCH_STORM_DEVICES ?? 10_000);
/** Sockets opened per tick: the storm is as fast as the bench process can open them. */
const OPEN_BATCH = 100;

interface BrokerChild {
  readonly url: string;
  cpuMicros(): Promise<number>;
  stop(): void;
}

async function startBrokerChild(mode: 'bare' | 'node', redisUrl?: string): Promise<BrokerChild> {
  const script = fileURLToPath(new URL('./storm-broker.js', import.meta.url));
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [script, mode, ...(redisUrl ? [redisUrl] : [])], { stdio: 'pipe' });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const url = (await lines.next()).value as string;
  return {
    url,
    async cpuMicros() {
      child.stdin.write('cpu\n');
      return Number((await lines.next()).value);
    },
    stop: () => child.kill('SIGKILL'),
  };
}

/** Opens every connection, sends its CONNECT, resolves with ms from the first CONNECT to the last CONNACK 0. */
/** How the connections that were not admitted ended: CONNACK code n, socket error code, or no answer by the deadline. */
type Outcomes = Map<string, number>;

async function storm(url: string, accounts: readonly { id: string; password: string }[]): Promise<{ ms: number; refused: number; outcomes: Outcomes }> {
  const { port } = new URL(url);
  const sockets: Socket[] = [];
  let accepted = 0;
  let refused = 0;
  const outcomes: Outcomes = new Map();
  const count = (outcome: string) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  const started = performance.now();
  const done = new Promise<void>((resolve) => {
    const settle = () => {
      if (accepted + refused === accounts.length) resolve();
    };
    const open = (from: number) => {
      for (const account of accounts.slice(from, from + OPEN_BATCH)) {
        const packet = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: account.id, keepalive: 60, username: account.id, password: Buffer.from(account.password) });
        const socket = tcpConnect(Number(port), '127.0.0.1', () => socket.write(packet));
        sockets.push(socket);
        let counted = false;
        socket.once('data', (chunk: Buffer) => {
          if (counted) return;
          counted = true;
          // CONNACK: 0x20 0x02 flags returnCode
          if (chunk[0] === 0x20 && chunk[3] === 0) accepted += 1;
          else {
            refused += 1;
            count(chunk[0] === 0x20 ? `CONNACK ${chunk[3]}` : 'other packet');
          }
          settle();
        });
        socket.on('error', (error: NodeJS.ErrnoException) => {
          if (counted) return;
          counted = true;
          refused += 1;
          count(error.code ?? 'socket error');
          settle();
        });
      }
      if (from + OPEN_BATCH < accounts.length) setImmediate(() => open(from + OPEN_BATCH));
    };
    open(0);
  });
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, 120_000).unref());
  await Promise.race([done, deadline]);
  const ms = performance.now() - started;
  for (const socket of sockets) socket.destroy();
  const unanswered = accounts.length - accepted - refused;
  if (unanswered > 0) outcomes.set('no answer', unanswered);
  return { ms, refused: refused + unanswered, outcomes };
}

export async function benchReconnectStorm(): Promise<BenchFigure[]> {
  const redis = await startRedis(undefined);
  const writer = new Redis(redis.url);
  const accounts = Array.from({ length: DEVICES }, (_, i) => ({ id: `gw-${String(i).padStart(5, '0')}`, password: generateSecret('wfd') }));
  for (let i = 0; i < accounts.length; i += 500) {
    await Promise.all(accounts.slice(i, i + 500).map((a) => writeCredential(writer, deviceCredentialKey(a.id), { current: hashSecretSync(a.password) })));
  }
  writer.disconnect();

  const bare = await startBrokerChild('bare');
  const bareCpu0 = await bare.cpuMicros();
  const bareRun = await storm(bare.url, accounts);
  const bareCpu = (await bare.cpuMicros()) - bareCpu0;
  bare.stop();

  const node = await startBrokerChild('node', redis.url);
  const nodeCpu0 = await node.cpuMicros();
  const nodeRun = await storm(node.url, accounts);
  const nodeCpu = (await node.cpuMicros()) - nodeCpu0;
  node.stop();
  await redis.dispose();
  // Not admitted within the deadline, refused, or reset (listen backlog): counted in the notes.
  const detail = (outcomes: Outcomes) => (outcomes.size === 0 ? '' : ` (${[...outcomes].map(([k, n]) => `${k}: ${n}`).join(', ')})`);
  const outcome = `not admitted: node ${nodeRun.refused}${detail(nodeRun.outcomes)}, bare ${bareRun.refused}${detail(bareRun.outcomes)} of ${DEVICES}`;

  const perThousand = (micros: number) => micros / 1e6 / (DEVICES / 1000);
  return [
    figure({
      bench: 'reconnect-storm/seconds',
      subject: `${DEVICES} CONNECTs to one node (Redis, credential replica)`,
      baseline: 'the same storm on bare Aedes, no authentication',
      unit: 's first CONNECT → last CONNACK',
      subjectValue: nodeRun.ms / 1000,
      baselineValue: bareRun.ms / 1000,
      note: `lower is better; goal < 20 s; ${outcome}`,
    }),
    figure({
      bench: 'reconnect-storm/cpu',
      subject: 'broker CPU per 1,000 CONNECTs, cluster node',
      baseline: 'bare Aedes, no authentication',
      unit: 'CPU-s / 1,000 CONNECTs',
      subjectValue: perThousand(nodeCpu),
      baselineValue: perThousand(bareCpu),
      note: `lower is better; goal < 2×; ${outcome}`,
    }),
  ];
}
