/**
 * One spooled result on disk: a fixed header, then the ResultBatch exactly as it goes on the wire.
 *
 *   u32 payload length · u32 CRC-32 of (seq, writtenAt, payload) · f64 seq · f64 writtenAt ms · payload
 *
 * The CRC makes a record torn by a crash mid-write (or flipped on the medium) detectable, so
 * recovery stops there instead of sending garbage. Little-endian throughout.
 */
import { crc32 } from './crc32.js';

export const RECORD_HEADER_BYTES = 24;
/** Far above any result payload cap; a larger length can only be a torn or corrupt header. */
export const MAX_RECORD_PAYLOAD = 4 * 1024 * 1024;

export interface SpoolRecord {
  readonly seq: number;
  readonly writtenAt: number;
  /** Offset of the record's header in its segment. */
  readonly offset: number;
  /** Header plus payload. */
  readonly size: number;
}

export function encodeRecord(seq: number, writtenAt: number, payload: Uint8Array): Buffer {
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.byteLength);
  record.writeUInt32LE(payload.byteLength, 0);
  record.writeDoubleLE(seq, 8);
  record.writeDoubleLE(writtenAt, 16);
  record.set(payload, RECORD_HEADER_BYTES);
  record.writeUInt32LE(crc32(record.subarray(8)), 4);
  return record;
}

export interface SegmentScan {
  readonly records: SpoolRecord[];
  /** Bytes of whole, valid records from the start; what follows is torn or corrupt. */
  readonly validBytes: number;
  /** True when bytes after validBytes could not be read as a record. */
  readonly torn: boolean;
}

/** Reads every valid record of a segment's bytes, stopping at the first torn or corrupt one. */
export function scanSegment(bytes: Buffer): SegmentScan {
  const records: SpoolRecord[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    if (bytes.byteLength - offset < RECORD_HEADER_BYTES) break;
    const length = bytes.readUInt32LE(offset);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (length > MAX_RECORD_PAYLOAD || end > bytes.byteLength) break;
    if (crc32(bytes.subarray(offset + 8, end)) !== bytes.readUInt32LE(offset + 4)) break;
    const seq = bytes.readDoubleLE(offset + 8);
    const writtenAt = bytes.readDoubleLE(offset + 16);
    if (!Number.isSafeInteger(seq) || seq < 0 || !Number.isFinite(writtenAt)) break;
    records.push({ seq, writtenAt, offset, size: end - offset });
    offset = end;
  }
  return { records, validBytes: offset, torn: offset < bytes.byteLength };
}

export function recordPayload(bytes: Buffer, record: SpoolRecord): Buffer {
  return bytes.subarray(record.offset + RECORD_HEADER_BYTES, record.offset + record.size);
}
