/**
 * Reading a spool directory back after a restart: its segments in order, each scanned up to its
 * first torn or corrupt record, which is cut off (so appends continue on clean data) and counted.
 * Entries that are not regular files (a symlink to a device, a directory) are not read.
 */
import { readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../common/logger.js';
import type { LossLedger } from './ledger.js';
import { scanSegment, type SpoolRecord } from './record.js';

export const SEGMENT_PATTERN = /^(\d{8})\.seg$/;

export const segmentName = (no: number): string => `${String(no).padStart(8, '0')}.seg`;

export interface RecoveredSegment {
  readonly no: number;
  readonly path: string;
  /** Bytes of valid records (the file is cut to this). */
  readonly bytes: number;
  readonly records: SpoolRecord[];
}

export interface RecoveredSpool {
  readonly segments: RecoveredSegment[];
  /** The highest segment number seen, readable or not; new segments are numbered after it. */
  readonly highestNo: number;
}

/** Undefined when the directory itself cannot be created or listed (the failure is in the ledger). */
export function recoverSpool(dir: string, ledger: LossLedger, logger: Logger): RecoveredSpool | undefined {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => SEGMENT_PATTERN.test(name)).sort();
  } catch (error) {
    ledger.failure('spool directory unreadable; results are kept in memory and sent live', error);
    return undefined;
  }
  const segments: RecoveredSegment[] = [];
  let highestNo = 0;
  for (const name of names) {
    const path = join(dir, name);
    const no = Number(SEGMENT_PATTERN.exec(name)![1]);
    highestNo = Math.max(highestNo, no);
    let bytes: Buffer;
    try {
      if (!statSync(path).isFile()) {
        logger.warn('spool segment is not a regular file; not read', { path });
        continue;
      }
      bytes = readFileSync(path);
    } catch (error) {
      ledger.failure('spool segment unreadable; skipped', error, { path });
      continue;
    }
    const scan = scanSegment(bytes);
    if (scan.torn) {
      ledger.torn();
      logger.warn('torn or corrupt spool record skipped (crash mid-write)', { path, validBytes: scan.validBytes, fileBytes: bytes.byteLength });
      try {
        truncateSync(path, scan.validBytes);
      } catch (error) {
        ledger.failure('torn spool segment not truncated', error, { path });
      }
    }
    segments.push({ no, path, bytes: scan.validBytes, records: scan.records });
  }
  return { segments, highestNo };
}
