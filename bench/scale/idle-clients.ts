/**
 * Idle MQTT devices, many to a process, for the idle-connections bench: raw TCP sockets each
 * sending one pre-encoded CONNECT (clean session, keepalive one hour, so nothing else crosses the
 * wire while the bench measures) and then only reading. The sockets are spread over several
 * loopback source addresses (127.0.0.2 and up): one source address has under 30,000 ephemeral
 * ports towards one broker port.
 *
 * argv[2]: a JSON file { port, addresses: string[], accounts: [{ id, password }] }. At most
 * IN_FLIGHT CONNECTs are unanswered at a time. stdout: `{ connected, refused, outcomes, nofile }`
 * once every CONNECT is answered or timed out; the sockets then stay open until stdin closes or
 * SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

interface Spec {
  port: number;
  addresses: string[];
  accounts: Array<{ id: string; password: string }>;
}

const IN_FLIGHT = 200;
const CONNACK_TIMEOUT_MS = 60_000;
const KEEPALIVE_S = 3600;

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
const sockets: Socket[] = [];
const outcomes: Record<string, number> = {};
let connected = 0;

function openOne(index: number): Promise<void> {
  const account = spec.accounts[index]!;
  const packet = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: account.id, keepalive: KEEPALIVE_S, username: account.id, password: Buffer.from(account.password) });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome === undefined) connected += 1;
      else outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      resolve();
    };
    const socket = connect({ port: spec.port, host: '127.0.0.1', localAddress: spec.addresses[index % spec.addresses.length]! }, () => socket.write(packet));
    const timer = setTimeout(() => settle('no answer'), CONNACK_TIMEOUT_MS);
    sockets.push(socket);
    socket.once('data', (chunk: Buffer) => {
      // CONNACK: 0x20 0x02 flags returnCode; the socket then stays open and idle.
      settle(chunk[0] === 0x20 && chunk[3] === 0 ? undefined : chunk[0] === 0x20 ? `CONNACK ${chunk[3]}` : 'other packet');
      socket.on('data', () => {});
    });
    socket.on('error', (error: NodeJS.ErrnoException) => settle(error.code ?? 'socket error'));
    socket.on('close', () => settle('closed'));
  });
}

let nextIndex = 0;
async function worker(): Promise<void> {
  while (nextIndex < spec.accounts.length) await openOne(nextIndex++);
}
await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, spec.accounts.length) }, worker));
const limits = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
process.stdout.write(`${JSON.stringify({ connected, refused: spec.accounts.length - connected, outcomes, nofile: Number(limits?.split(/\s{2,}/)[1]) })}\n`);

const stop = () => {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
};
process.stdin.on('data', () => {});
process.stdin.once('end', stop);
process.stdin.once('close', stop);
process.once('SIGTERM', stop);
