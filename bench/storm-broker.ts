/**
 * The broker side of the reconnect-storm bench, in a process of its own so its CPU is measured
 * alone: `bare` is Aedes with no authentication, `node` our broker as one cluster node on Redis
 * admitting devices from the credential replica. Prints its URL, then answers each stdin line
 * with its CPU time in microseconds so far.
 */
import { createServer } from 'node:net';
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
} else {
  const verifier = createRedisCredentialVerifier(redisUrl!, silentLogger);
  // Connection rate limits off: the storm measures admission, not the limiter.
  const broker = await startBroker({ port: 0, redis: redisUrl!, verifier, logger: silentLogger, connectRatePerAddress: 0, connectRateGlobal: 0 });
  url = broker.url;
}
process.stdout.write(`${url}\n`);
process.stdin.setEncoding('utf8');
process.stdin.on('data', () => {
  const { user, system } = process.cpuUsage();
  process.stdout.write(`${user + system}\n`);
});
process.stdin.on('end', () => process.exit(0));
