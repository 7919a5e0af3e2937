/**
 * A max packet size for Aedes, which has none (Mosquitto's `max_packet_size`). It reads only the
 * MQTT fixed header of each packet as bytes stream past (§2.2: one type/flags byte, then the
 * Remaining Length as a variable-length integer of 1–4 bytes, 7 bits each, low group first,
 * high bit = "more bytes follow" §2.2.3), and skips the body by counting. It never buffers: a
 * packet is judged as soon as its length is known, before a single byte of its body arrives, so
 * an oversize payload is refused without being held in memory. Headers may be split across
 * chunks at any byte; the state below carries the partial header between calls.
 */

export type ScanVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: 'too-large' | 'malformed-length';
      /** Whole packet size as declared (fixed header + remaining length); undefined if malformed. */
      readonly packetBytes?: number;
      /** Bytes of this chunk that precede the offending packet's first byte (safe to forward). */
      readonly safeBytes: number;
    };

const enum Phase {
  TypeByte,
  Length,
  Body,
}

/** §2.2.3: the Remaining Length field is at most four bytes long. */
const MAX_LENGTH_BYTES = 4;

export class PacketSizeScanner {
  readonly #maxPacketBytes: number;
  #phase: Phase = Phase.TypeByte;
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #bodyLeft = 0;
  /** Where the current packet began in the current chunk; negative when it began in an earlier one. */
  #packetStart = 0;
  #failed: ScanVerdict | undefined;

  constructor(maxPacketBytes: number) {
    if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 2) {
      throw new RangeError(`maxPacketBytes must be an integer >= 2, got ${maxPacketBytes}`);
    }
    this.#maxPacketBytes = maxPacketBytes;
  }

  /** Feed the next chunk of the stream. Once a verdict is negative, it stays negative. */
  scan(chunk: Uint8Array): ScanVerdict {
    if (this.#failed) return { ...this.#failed, safeBytes: 0 } as ScanVerdict;
    let i = 0;
    this.#packetStart = this.#phase === Phase.TypeByte ? 0 : -1;
    while (i < chunk.length) {
      switch (this.#phase) {
        case Phase.TypeByte:
          this.#packetStart = i;
          this.#length = 0;
          this.#multiplier = 1;
          this.#lengthBytes = 0;
          this.#phase = Phase.Length;
          i += 1;
          break;
        case Phase.Length: {
          const byte = chunk[i] as number;
          i += 1;
          this.#length += (byte & 0x7f) * this.#multiplier;
          this.#multiplier *= 128;
          this.#lengthBytes += 1;
          if ((byte & 0x80) !== 0) {
            if (this.#lengthBytes >= MAX_LENGTH_BYTES) return this.#fail('malformed-length', undefined);
            break;
          }
          const packetBytes = 1 + this.#lengthBytes + this.#length;
          if (packetBytes > this.#maxPacketBytes) return this.#fail('too-large', packetBytes);
          this.#bodyLeft = this.#length;
          this.#phase = this.#bodyLeft === 0 ? Phase.TypeByte : Phase.Body;
          break;
        }
        case Phase.Body: {
          // Skip the body by arithmetic, so a large packet costs O(1) per chunk.
          const take = Math.min(this.#bodyLeft, chunk.length - i);
          this.#bodyLeft -= take;
          i += take;
          if (this.#bodyLeft === 0) this.#phase = Phase.TypeByte;
          break;
        }
      }
    }
    return { ok: true };
  }

  #fail(reason: 'too-large' | 'malformed-length', packetBytes: number | undefined): ScanVerdict {
    const verdict: ScanVerdict = {
      ok: false,
      reason,
      ...(packetBytes !== undefined ? { packetBytes } : {}),
      safeBytes: Math.max(0, this.#packetStart),
    };
    this.#failed = verdict;
    return verdict;
  }
}
