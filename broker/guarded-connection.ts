/**
 * Puts the PacketSizeScanner between a TCP socket and Aedes. Aedes reads its connection with
 * `read()` on 'readable' and writes with `write()` (+ 'drain'), so it accepts any Duplex: this
 * one forwards socket bytes to Aedes only after the scanner has passed them, and writes straight
 * through to the socket. On a verdict against a packet, the bytes before it are forwarded, the
 * rest are never read, and the socket is destroyed.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { PacketSizeScanner, type ScanVerdict } from './packet-size-guard.js';

export type OversizeVerdict = Extract<ScanVerdict, { ok: false }>;

export interface GuardedConnectionOptions {
  readonly maxPacketBytes: number;
  /** Called once, before the connection is destroyed. `clientId` is set if CONNECT was seen. */
  readonly onOversize: (verdict: OversizeVerdict, connection: GuardedConnection) => void;
}

export class GuardedConnection extends Duplex {
  readonly socket: Socket;
  readonly #scanner: PacketSizeScanner;
  readonly #onOversize: GuardedConnectionOptions['onOversize'];

  constructor(socket: Socket, options: GuardedConnectionOptions) {
    super({ allowHalfOpen: false });
    this.socket = socket;
    this.#scanner = new PacketSizeScanner(options.maxPacketBytes);
    this.#onOversize = options.onOversize;

    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => this.destroy());
    socket.on('drain', () => this.emit('socketDrain'));
  }

  /** For logs and Aedes' preConnect, which look at the transport's address. */
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  #onData(chunk: Buffer): void {
    const verdict = this.#scanner.scan(chunk);
    if (verdict.ok) {
      // Backpressure: stop reading the socket until Aedes has consumed what it has.
      if (!this.push(chunk)) this.socket.pause();
      return;
    }
    this.socket.pause();
    if (verdict.safeBytes > 0) this.push(chunk.subarray(0, verdict.safeBytes));
    this.#onOversize(verdict, this);
    this.destroy();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.socket.destroyed) return callback(new Error('socket closed'));
    if (this.socket.write(chunk)) return callback();
    this.once('socketDrain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}
