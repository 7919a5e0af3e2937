/**
 * Byte-level reading and writing of the Wasm binary format: LEB128 integers, names, raw ranges.
 * The reader refuses (MeteringRefusal) instead of reading past its end, so a truncated binary is
 * reported with the offset where it ended.
 */
import { MeteringRefusal } from './refusal.js';

const hex = (n: number): string => `0x${n.toString(16)}`;

export class ByteReader {
  /** Absolute offset of the next byte to read. */
  at: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    /** Exclusive end of the readable range. */
    readonly end = bytes.length,
    /** Prefix for refusal reasons, e.g. "import section". */
    readonly where = 'module',
  ) {
    this.at = start;
  }

  get done(): boolean {
    return this.at >= this.end;
  }

  refuse(reason: string, at = this.at): never {
    throw new MeteringRefusal(`${this.where} at offset ${hex(at)}: ${reason}`);
  }

  u8(): number {
    if (this.at >= this.end) this.refuse('unexpected end of bytes (truncated binary?)');
    return this.bytes[this.at++]!;
  }

  /** Unsigned LEB128 of at most `bits` bits (32 unless told); returns a JS number. */
  u32(bits = 32): number {
    const start = this.at;
    let result = 0;
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; i < maxBytes; i++) {
      const b = this.u8();
      result += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (result >= 2 ** bits) this.refuse(`LEB128 integer does not fit in ${bits} bits`, start);
        return result;
      }
    }
    return this.refuse(`LEB128 integer longer than ${maxBytes} bytes`, start);
  }

  /** Signed LEB128 of at most `bits` bits; returns the value for bits <= 33, skips it otherwise. */
  s(bits: number): number {
    const start = this.at;
    let result = 0;
    const maxBytes = Math.ceil(bits / 7);
    for (let i = 0; i < maxBytes; i++) {
      const b = this.u8();
      result += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        const width = 7 * (i + 1);
        if (b & 0x40) result -= 2 ** width;
        return result;
      }
    }
    return this.refuse(`signed LEB128 integer longer than ${maxBytes} bytes`, start);
  }

  skip(count: number): void {
    if (count < 0 || this.at + count > this.end) this.refuse(`${count} bytes announced, only ${this.end - this.at} left (truncated binary?)`);
    this.at += count;
  }

  take(count: number): Uint8Array {
    const start = this.at;
    this.skip(count);
    return this.bytes.subarray(start, this.at);
  }

  name(): string {
    const length = this.u32();
    const raw = this.take(length);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      return this.refuse('name is not valid UTF-8', this.at - length);
    }
  }

  /** Everything from `start` to the current offset. */
  since(start: number): Uint8Array {
    return this.bytes.subarray(start, this.at);
  }
}

const UTF8 = new TextEncoder();

/** Appends bytes into growing chunks; `finish()` joins them once. */
export class ByteWriter {
  private readonly chunks: Uint8Array[] = [];
  private pending: number[] = [];
  private total = 0;

  get length(): number {
    return this.total + this.pending.length;
  }

  u8(...values: number[]): this {
    for (const value of values) this.pending.push(value & 0xff);
    return this;
  }

  u32(value: number): this {
    this.pending.push(...encodeU32(value));
    return this;
  }

  s32(value: number): this {
    this.pending.push(...encodeS32(value));
    return this;
  }

  bytes(raw: Uint8Array): this {
    if (raw.length < 64) {
      for (const b of raw) this.pending.push(b);
      return this;
    }
    this.flush();
    this.chunks.push(raw);
    this.total += raw.length;
    return this;
  }

  name(text: string): this {
    const raw = UTF8.encode(text);
    return this.u32(raw.length).bytes(raw);
  }

  /** A length-prefixed byte vector: size as LEB128, then the bytes. */
  sized(raw: Uint8Array): this {
    return this.u32(raw.length).bytes(raw);
  }

  finish(): Uint8Array<ArrayBuffer> {
    this.flush();
    const out = new Uint8Array(this.total);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    // The array constructor, not Uint8Array.from (its generic iteration was most of this).
    this.chunks.push(new Uint8Array(this.pending));
    this.total += this.pending.length;
    this.pending = [];
  }
}

export function encodeU32(value: number): number[] {
  const out: number[] = [];
  let rest = value >>> 0;
  do {
    let b = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) b |= 0x80;
    out.push(b);
  } while (rest !== 0);
  return out;
}

export function encodeS32(value: number): number[] {
  const out: number[] = [];
  let rest = value | 0;
  for (;;) {
    const b = rest & 0x7f;
    rest >>= 7;
    const signBit = (b & 0x40) !== 0;
    if ((rest === 0 && !signBit) || (rest === -1 && signBit)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}
