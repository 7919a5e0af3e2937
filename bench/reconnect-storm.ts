/**
 * Reconnect storm: N devices that lost their node at the same instant CONNECT to one broker node
 * (Redis, credential replica, real HMAC-SHA-256 secrets), against the same storm on bare Aedes
 * with no authentication, each broker in its own process. Figures: seconds from the first CONNECT
 * to the last CONNACK, and broker CPU-seconds per 1,000 CONNECTs. Clients are raw TCP sockets
 * sending a pre-encoded CONNECT, so the bench process costs the broker nothing it would not pay
 * for real devices.
 *
 * Pacing is the agents' own (device-agent/reconnect-backoff.ts with the agent config's default
 * bounds): each device's first attempt waits a full-jitter delay in [0, 2 s), and a connection
 * reset or a CONNACK 3 (server unavailable) is retried after the next delay of the same backoff,
 * as an agent does. WF_BENCH_STORM_PACING=burst opens every socket as fast as the bench process
 * can, with no retry: no fleet reconnects like that, and on Linux it overflows the listen queue
 * (docs/operations.md §Reconnect storms has what that costs and the counters that show it).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect as tcpConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import mqttPacket from 'mqtt-packet';
import { Redis } from 'ioredis';
import { deviceCredentialKey, writeCredential } from '../common/redis-credentials.js';
import { generateSecret, hashSecretSync } from '../common/secrets.js';
import { DEFAULT_RECONNECT_MAX_MS, DEFAULT_RECONNECT_PERIOD_MS } from '../device-agent/config.js';
import { fullJitterDelay } from '../device-agent/reconnect-backoff.js';
import { startRedis } from '../test/helpers/redis.js';
import { figure, type BenchFigure } from './figure.js';

const DEVICES = Number(process.env.WF_BENCH_STORM_DEVICES ?? 10_000);
/** Burst pacing: sockets opened per tick, as fast as the bench process can open them. */
const OPEN_BATCH = 100;
const PACING: 'agent' | 'burst' = process.env.WF_BENCH_STORM_PACING === 'burst' ? 'burst' : 'agent';
const BACKOFF = { minMs: DEFAULT_RECONNECT_PERIOD_MS, maxMs: DEFAULT_RECONNECT_MAX_MS };
/** What an agent retries: the node was busy or away, not a refusal of its credentials. */
const RETRIED = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'CONNACK 3']);

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

/** How the connections that were not admitted ended: CONNACK code n, socket error code, or no answer by the deadline. */
type Outcomes = Map<string, number>;

interface StormRun {
  /** ms from the first CONNECT to the last CONNACK 0. */
  readonly ms: number;
  readonly refused: number;
  readonly outcomes: Outcomes;
  /** Attempts that ended in a reset or CONNACK 3 and were retried after the backoff, by cause. */
  readonly retries: Outcomes;
}

async function storm(url: string, accounts: readonly { id: string; password: string }[]): Promise<StormRun> {
  const { port } = new URL(url);
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let accepted = 0;
  let refused = 0;
  let lastConnack = 0;
  const outcomes: Outcomes = new Map();
  const retries: Outcomes = new Map();
  const count = (into: Outcomes, outcome: string) => into.set(outcome, (into.get(outcome) ?? 0) + 1);
  let firstConnect: number | undefined;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const settle = () => {
    if (accepted + refused === accounts.length) finish();
  };
  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };
  const attempt = (account: { id: string; password: string }, n: number) => {
    firstConnect ??= performance.now();
    const packet = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: account.id, keepalive: 60, username: account.id, password: Buffer.from(account.password) });
    const socket = tcpConnect(Number(port), '127.0.0.1', () => socket.write(packet));
    sockets.add(socket);
    let ended = false;
    const end = (outcome: string | undefined) => {
      if (ended) return;
      ended = true;
      if (outcome === undefined) {
        accepted += 1;
        lastConnack = performance.now();
      } else if (PACING === 'agent' && RETRIED.has(outcome)) {
        count(retries, outcome);
        sockets.delete(socket);
        socket.destroy();
        later(fullJitterDelay(n + 1, BACKOFF), () => attempt(account, n + 1));
        return;
      } else {
        refused += 1;
        count(outcomes, outcome);
      }
      settle();
    };
    // CONNACK: 0x20 0x02 flags returnCode
    socket.once('data', (chunk: Buffer) => end(chunk[0] === 0x20 ? (chunk[3] === 0 ? undefined : `CONNACK ${chunk[3]}`) : 'other packet'));
    socket.on('error', (error: NodeJS.ErrnoException) => end(error.code ?? 'socket error'));
    socket.on('close', () => end('closed before CONNACK'));
  };
  if (PACING === 'burst') {
    const open = (from: number) => {
      for (const account of accounts.slice(from, from + OPEN_BATCH)) attempt(account, 0);
      if (from + OPEN_BATCH < accounts.length) setImmediate(() => open(from + OPEN_BATCH));
    };
    open(0);
  } else {
    for (const account of accounts) later(fullJitterDelay(0, BACKOFF), () => attempt(account, 0));
  }
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, 120_000).unref());
  await Promise.race([done, deadline]);
  for (const timer of timers) clearTimeout(timer);
  for (const socket of sockets) socket.destroy();
  const unanswered = accounts.length - accepted - refused;
  if (unanswered > 0) outcomes.set('no answer', unanswered);
  return { ms: lastConnack - (firstConnect ?? 0), refused: refused + unanswered, outcomes, retries };
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
  const retried = (run: StormRun) => (run.retries.size === 0 ? '0' : [...run.retries].map(([k, n]) => `${k}: ${n}`).join(', '));
  const pacing = PACING === 'burst' ? 'burst pacing, no retries' : `agent backoff pacing (first attempt in [0, ${DEFAULT_RECONNECT_PERIOD_MS} ms)); retried after backoff: node ${retried(nodeRun)}, bare ${retried(bareRun)}`;
  const outcome = `not admitted: node ${nodeRun.refused}${detail(nodeRun.outcomes)}, bare ${bareRun.refused}${detail(bareRun.outcomes)} of ${DEVICES}; ${pacing}`;

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
