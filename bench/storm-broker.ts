/**
 * The broker side of the reconnect-storm bench, in a process of its own so its CPU is measured
 * alone: `bare` is Aedes with no authentication, `node` our broker as one cluster node on Redis
 * admitting devices from the credential replica. Prints its URL, then answers each stdin line
 * with its CPU time in microseconds so far.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { startBroker } from '../broker/index.js';
import { createRedisCredentialVerifier } from '../broker/redis-verifier.js';
import { silentLogger } from '../common/logger.js';

const [mode, redisUrl] = process.argv.slice(2);
let url: string;
if (mode === 'bare') {
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  // The node's listen backlog (broker/index.ts), not Node's 511: with 511 bare Aedes' accept queue
  // overflows in the storm and its resets, retried after the agents' backoff, would time the
  // kernel's queue instead of Aedes.
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 65_535 }, resolve));
  url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
} else {
  const verifier = createRedisCredentialVerifier(redisUrl!, silentLogger);
  // Connection rate limits off: the storm measures admission, not the limiter.
  const broker = await startBroker({ port: 0, redis: redisUrl!, verifier, logger: silentLogger, connectRatePerAddress: 0, connectRateGlobal: 0 });
  url = broker.url;
}
// WF_BENCH_STORM_PROFILE=DIR: a CPU profile of exactly the measured span (first to second CPU
// reading), so start-up and the clients' teardown do not blur the shares.
const profileDir = mode === 'node' ? process.env.WF_BENCH_STORM_PROFILE : undefined;
const profiler = profileDir ? new Session() : undefined;
profiler?.connect();
const post = (method: string): Promise<unknown> =>
  new Promise((resolve, reject) => profiler!.post(method, (error, result) => (error ? reject(error) : resolve(result))));
let readings = 0;

process.stdout.write(`${url}\n`);
process.stdin.setEncoding('utf8');
process.stdin.on('data', async () => {
  readings += 1;
  const { user, system } = process.cpuUsage();
  if (profiler && readings === 1) {
    await post('Profiler.enable');
    await post('Profiler.start');
  }
  if (profiler && readings === 2) {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown };
    mkdirSync(profileDir!, { recursive: true });
    writeFileSync(join(profileDir!, `storm-${process.pid}.cpuprofile`), JSON.stringify(profile));
  }
  process.stdout.write(`${user + system}\n`);
});
process.stdin.on('end', () => process.exit(0));
