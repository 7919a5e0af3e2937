/**
 * Puts the PacketSizeScanner in front of Aedes on the socket itself. Node hands every chunk a
 * socket reads to the socket's own `push()` (the Readable contract a stream implementation
 * fulfils: `onStreamRead` in node's stream_base_commons, for TCP and TLS alike) before it is
 * buffered for `read()`. Guarding that one method on the socket instance means:
 *  - an oversize packet is refused before a byte of it is buffered: the bytes before it are
 *    pushed, the rest never are, and the socket is destroyed;
 *  - Aedes gets the real socket, so its writes go to the corked socket exactly as in bare Aedes
 *    (mqtt-packet corks, writes each piece of a packet, uncorks on the next tick: one writev),
 *    and its backpressure (`write()` returning false, 'drain', drainTimeout for slow consumers)
 *    is the socket's own.
 * An earlier version was a Duplex between socket and Aedes; its `_write` sent every piece of
 * every packet as its own socket write, which cost about half the broker's CPU (docs/broker.md
 * §Efficiency).
 *
 * Coalesced writes (common/coalesced-writes.ts, for every connection): a connection's packets of one
 * turn of the event loop leave in one writev.
 *
 * Read-ahead (allowReadAhead): a socket stops reading from the kernel once it holds its
 * highWaterMark, and a chunk is at most 64 KiB, so each Aedes batch (everything buffered, handled
 * before the next read) was at most 64 KiB. For a device that is the right bound. For the fleet
 * API's one connection, which carries every desired state of a rollout, it capped the API at one
 * 64 KiB batch (about 55 signed desired states) per few turns of the broker's event loop: 55 to
 * 100 publishes a second on a loaded broker, 10,000 desired states in two minutes, while the API's
 * own socket stayed full and its acks and reads of the fleet's reports waited behind them.
 */
import { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import { PacketSizeScanner, type ScanVerdict } from './packet-size-guard.js';
import { writesCoalesced } from '../common/coalesced-writes.js';

export type OversizeVerdict = Extract<ScanVerdict, { ok: false }>;

export interface GuardOptions {
  readonly maxPacketBytes: number;
  /** Called once, before the socket is destroyed. `client` is set once Aedes has taken the socket. */
  readonly onOversize: (verdict: OversizeVerdict, socket: GuardedSocket) => void;
}

/** A socket Aedes has taken: it stores its client on the connection. */
export type GuardedSocket = Socket & { client?: { id?: string | null } };

const push = Readable.prototype.push;

/** Sockets allowed to read ahead, and how many bytes they may hold unread (allowReadAhead). */
const readAhead = new WeakMap<Socket, number>();

/**
 * Lets `socket` keep reading from the kernel until it holds `bytes` unread, past its highWaterMark,
 * so one Aedes batch takes up to that much. Only for trusted relays of many devices' traffic (the
 * fleet API's service account, hubs): a device keeps the default, so 50,000 of them cannot make the
 * broker hold more than a chunk each.
 */
export function allowReadAhead(socket: Socket, bytes: number): void {
  readAhead.set(socket, bytes);
}

/** What a connection was given beyond a plain guarded socket: read-ahead bytes (0: none), coalesced writes. */
export function tuningOf(socket: Socket): { readonly readAheadBytes: number; readonly coalescedWrites: boolean } {
  return { readAheadBytes: readAhead.get(socket) ?? 0, coalescedWrites: writesCoalesced(socket) };
}

/** Installs the packet size guard on `socket` (before Aedes reads from it) and returns it. */
export function guardSocket(socket: Socket, { maxPacketBytes, onOversize }: GuardOptions): GuardedSocket {
  const scanner = new PacketSizeScanner(maxPacketBytes);
  let refused = false;
  socket.push = function guardedPush(chunk: unknown, encoding?: BufferEncoding): boolean {
    // null is the end of the stream; anything else a socket reads is a Buffer.
    if (chunk === null || refused) return refused ? false : push.call(this, chunk, encoding);
    const verdict = scanner.scan(chunk as Buffer);
    // false: the stream holds its highWaterMark and asks the socket to stop reading from the kernel.
    if (verdict.ok) return push.call(this, chunk, encoding) || this.readableLength < (readAhead.get(this) ?? 0);
    refused = true;
    if (verdict.safeBytes > 0) push.call(this, (chunk as Buffer).subarray(0, verdict.safeBytes));
    onOversize(verdict, socket);
    socket.destroy();
    return false;
  };
  return socket;
}
