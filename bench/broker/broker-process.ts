/**
 * A broker in a process of its own, for the broker benchmarks: `node broker-process.js
 * ours|bare|cluster`. `cluster` is `ours` as one cluster node on the Redis URL given as the fourth
 * argument (docs/scale-out.md: emitter, subscriptions and retained messages in Redis). `ours` is startBroker with authentication, ACL, the packet size guard, publish rate limits and
 * revocation on (the rate set above the load, so the buckets run but never refuse); `bare` is
 * Aedes 1.x with its defaults on a plain TCP server. It prints one JSON line
 * `{ port, credentials }` on stdout once listening, and stops on SIGTERM.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import { startBroker } from '../../broker/index.js';
import type { CredentialVerifier, Principal } from '../../broker/credentials.js';
import { generateSecret, hashSecretSync, verifySecret } from '../../common/secrets.js';
import { SERVICE_USERNAME } from '../../protocol/ids.js';

export interface BrokerProcessReady {
  readonly port: number;
  /** username → password; empty for the bare broker, which admits anyone. */
  readonly credentials: Record<string, string>;
}

const kind = process.argv[2];
const deviceCount = Number(process.argv[3] ?? '10');
const host = process.argv[4] ?? '127.0.0.1';
const redis = process.argv[5];

function verifierFor(usernames: readonly string[]): { verifier: CredentialVerifier; credentials: Record<string, string> } {
  const accounts = new Map<string, { hash: string; principal: Principal }>();
  const credentials: Record<string, string> = {};
  for (const username of usernames) {
    const secret = generateSecret('bench');
    credentials[username] = secret;
    const principal: Principal =
      username === SERVICE_USERNAME ? { kind: 'service', name: SERVICE_USERNAME } : { kind: 'device', deviceId: username };
    accounts.set(username, { hash: hashSecretSync(secret), principal });
  }
  const verifier: CredentialVerifier = {
    async verify(username, password) {
      const account = accounts.get(username);
      return account && (await verifySecret(password, account.hash)) ? account.principal : undefined;
    },
  };
  return { verifier, credentials };
}

async function startOurs(redisUrl?: string): Promise<{ ready: BrokerProcessReady; close: () => Promise<void> }> {
  const devices = Array.from({ length: deviceCount }, (_, i) => `bench-${i}`);
  const { verifier, credentials } = verifierFor([SERVICE_USERNAME, ...devices]);
  const broker = await startBroker({
    host,
    port: 0,
    verifier,
    publishRatePerSec: 100_000,
    publishBurst: 1_000_000,
    servicePublishRatePerSec: 1_000_000,
    servicePublishBurst: 1_000_000,
    connectRatePerAddress: 0,
    connectRateGlobal: 0,
    ...(redisUrl ? { redis: redisUrl } : {}),
  });
  return { ready: { port: broker.port, credentials }, close: () => broker.close() };
}

async function startBare(): Promise<{ ready: BrokerProcessReady; close: () => Promise<void> }> {
  const aedes = await Aedes.createBroker();
  const server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    ready: { port, credentials: {} },
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (kind !== 'ours' && kind !== 'bare' && !(kind === 'cluster' && redis)) {
  process.stderr.write('usage: broker-process.js ours|bare [deviceCount] [host]  |  broker-process.js cluster deviceCount host redis://HOST:PORT\n');
  process.exit(2);
}
const running = kind === 'bare' ? await startBare() : await startOurs(kind === 'cluster' ? redis : undefined);
process.stdout.write(`${JSON.stringify(running.ready)}\n`);
process.once('SIGTERM', () => {
  const timer = setTimeout(() => process.exit(1), 5000);
  timer.unref();
  void running.close().then(() => process.exit(0));
});
