/**
 * The custody log's files: numbered append-only segments (`00000001.seg`, …) of CRC-checked
 * records, the framing of the agents' spool (device-agent/spool/record.ts) with the device id at
 * the head of the record's payload:
 *
 *   u32 length · u32 CRC-32 · f64 seq · f64 receivedAt ms · u8 id length · device id · ResultBatch JSON
 *
 * Unlike the agents' spool, which fsyncs on a timer, a caller here waits for `durable()`: one
 * fdatasync of every file written since the last one (and of the directory when a segment was
 * created), shared by every append of the same event-loop turn. A device is acknowledged only
 * after it. A segment goes once nothing in it is held any more; that is how space comes back.
 */
import { closeSync, fdatasync, fsync, ftruncateSync, openSync, readdirSync, readFileSync, readSync, statSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { encodeRecord, recordPayload, scanSegment } from '../../device-agent/spool/record.js';

export const SEGMENT_PATTERN = /^(\d{8})\.seg$/;
export const segmentName = (no: number): string => `${String(no).padStart(8, '0')}.seg`;

export interface LogSegment {
  readonly no: number;
  readonly path: string;
  bytes: number;
  /** Records in it still held. */
  live: number;
  readFd?: number;
}

/** Where one record sits. */
export interface LogPlace {
  readonly segment: LogSegment;
  readonly offset: number;
  /** Header plus payload. */
  readonly size: number;
}

export interface LogRecord {
  readonly deviceId: string;
  readonly seq: number;
  readonly receivedAt: number;
}

export interface RecoveredRecord extends LogRecord, LogPlace {}

export function encodeCustodyRecord(record: LogRecord, batch: Uint8Array): Buffer {
  const id = Buffer.from(record.deviceId, 'utf8');
  const payload = Buffer.allocUnsafe(1 + id.byteLength + batch.byteLength);
  payload.writeUInt8(id.byteLength, 0);
  id.copy(payload, 1);
  payload.set(batch, 1 + id.byteLength);
  return encodeRecord(record.seq, record.receivedAt, payload);
}

function splitPayload(payload: Buffer): { deviceId: string; batch: Buffer } | undefined {
  if (payload.byteLength < 1) return undefined;
  const idLength = payload.readUInt8(0);
  if (idLength === 0 || payload.byteLength < 1 + idLength) return undefined;
  return { deviceId: payload.toString('utf8', 1, 1 + idLength), batch: payload.subarray(1 + idLength) };
}

const sync = (fd: number, data: boolean): Promise<void> =>
  new Promise((resolve, reject) => (data ? fdatasync : fsync)(fd, (error) => (error ? reject(error) : resolve())));

export class CustodyLog {
  private readonly segments = new Map<number, LogSegment>();
  private active: LogSegment | undefined;
  private appendFd: number | undefined;
  private nextNo = 1;
  private diskBytes = 0;
  /** Files written since their last fdatasync (the active one, and ones rotated away from). */
  private readonly unsynced = new Set<number>();
  /** Files no longer appended to, closed once no fdatasync needs them (closing earlier could let a new file reuse the fd number mid-sync). */
  private readonly retiring = new Set<number>();
  /** The files the running fdatasync covers. */
  private syncingFds = new Set<number>();
  private dirUnsynced = false;
  private writeGen = 0;
  private syncedGen = 0;
  private failedGen = 0;
  private syncing: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    private readonly logger: Logger,
  ) {}

  /** Bytes of every segment on disk, dead records included. */
  get bytes(): number {
    return this.diskBytes;
  }

  get segmentCount(): number {
    return this.segments.size;
  }

  /**
   * Reads the directory back: every valid record in segment order. A segment's torn or corrupt
   * tail (a write cut by a crash) is cut off so appends continue on clean data; `torn` counts them.
   */
  recover(): { records: RecoveredRecord[]; torn: number } {
    const names = readdirSync(this.dir).filter((name) => SEGMENT_PATTERN.test(name)).sort();
    const records: RecoveredRecord[] = [];
    let torn = 0;
    for (const name of names) {
      const path = join(this.dir, name);
      const no = Number(SEGMENT_PATTERN.exec(name)![1]);
      this.nextNo = Math.max(this.nextNo, no + 1);
      let bytes: Buffer;
      try {
        if (!statSync(path).isFile()) {
          this.logger.warn('custody segment is not a regular file; not read', { path });
          continue;
        }
        bytes = readFileSync(path);
      } catch (error) {
        // Left in place (and never reused: numbering goes on above it) for an operator to look at.
        this.logger.error('custody segment unreadable; skipped', { path, error: reasonOf(error) });
        continue;
      }
      const scan = scanSegment(bytes);
      let validBytes = scan.validBytes;
      const segment: LogSegment = { no, path, bytes: 0, live: 0 };
      for (const record of scan.records) {
        const split = splitPayload(recordPayload(bytes, record));
        if (!split) {
          validBytes = record.offset;
          break;
        }
        records.push({ deviceId: split.deviceId, seq: record.seq, receivedAt: record.writtenAt, segment, offset: record.offset, size: record.size });
      }
      if (validBytes < bytes.byteLength) {
        torn += 1;
        this.logger.warn('torn custody record cut off (a write cut by a crash; never acknowledged)', { path, validBytes, fileBytes: bytes.byteLength });
        truncateSync(path, validBytes);
      }
      segment.bytes = validBytes;
      this.segments.set(no, segment);
      this.diskBytes += validBytes;
    }
    return { records, torn };
  }

  /** After recovery and counting `live`: removes segments nothing is held in. */
  dropEmpty(): void {
    for (const segment of [...this.segments.values()]) if (segment.live === 0) this.remove(segment);
  }

  /**
   * Appends records in one write (to one segment); throws on a failed or short write after cutting
   * the partial data off. Durable only once `durable()` resolves.
   */
  append(records: readonly Buffer[]): LogPlace[] {
    const total = records.reduce((sum, record) => sum + record.byteLength, 0);
    if (!this.active || this.appendFd === undefined || (this.active.bytes > 0 && this.active.bytes + total > this.segmentBytes)) this.rotate();
    const segment = this.active!;
    const fd = this.appendFd!;
    const data = records.length === 1 ? records[0]! : Buffer.concat(records, total);
    try {
      const written = writeSync(fd, data);
      if (written !== total) throw new Error(`short write: ${written} of ${total} bytes`);
    } catch (error) {
      try {
        ftruncateSync(fd, segment.bytes);
      } catch {
        // the disk is gone: nothing to cut; the next open starts a new segment
      }
      this.retire();
      throw error;
    }
    const places: LogPlace[] = [];
    let offset = segment.bytes;
    for (const record of records) {
      places.push({ segment, offset, size: record.byteLength });
      offset += record.byteLength;
    }
    segment.bytes += total;
    segment.live += records.length;
    this.diskBytes += total;
    this.unsynced.add(fd);
    this.writeGen += 1;
    return places;
  }

  /**
   * Resolves once everything appended before the call is on the medium; rejects if its fdatasync
   * failed (then those records must not be acknowledged: their pages may be gone).
   */
  async durable(): Promise<void> {
    const target = this.writeGen;
    while (this.syncedGen < target) {
      if (this.failedGen >= target) throw new Error('custody fdatasync failed');
      this.syncing ??= this.runSync().finally(() => (this.syncing = undefined));
      await this.syncing;
    }
  }

  /** The ResultBatch bytes of a held record; throws if it is short or fails its checksum. */
  read(place: LogPlace): Buffer {
    const segment = place.segment;
    segment.readFd ??= openSync(segment.path, 'r');
    const bytes = Buffer.allocUnsafe(place.size);
    const read = readSync(segment.readFd, bytes, 0, place.size, place.offset);
    if (read !== place.size) throw new Error(`short read at ${place.offset} of ${segment.path}`);
    const scan = scanSegment(bytes);
    const split = scan.records.length === 1 ? splitPayload(recordPayload(bytes, scan.records[0]!)) : undefined;
    if (!split) throw new Error(`record at ${place.offset} of ${segment.path} fails its checksum`);
    return split.batch;
  }

  /** One record of `segment` left custody; an emptied segment no longer appended to is removed. */
  release(segment: LogSegment): void {
    segment.live -= 1;
    if (segment.live === 0 && segment !== this.active && this.segments.has(segment.no)) this.remove(segment);
  }

  async close(): Promise<void> {
    await this.durable().catch(() => undefined);
    if (this.appendFd !== undefined) closeSync(this.appendFd);
    this.appendFd = undefined;
    for (const fd of this.retiring) closeSync(fd);
    this.retiring.clear();
    for (const segment of this.segments.values()) {
      if (segment.readFd !== undefined) closeSync(segment.readFd);
      segment.readFd = undefined;
    }
  }

  private async runSync(): Promise<void> {
    // Let every append of this event-loop turn join the same fdatasync.
    await new Promise((resolve) => setImmediate(resolve));
    const gen = this.writeGen;
    const fds = [...this.unsynced];
    this.unsynced.clear();
    this.syncingFds = new Set(fds);
    const dirToo = this.dirUnsynced;
    this.dirUnsynced = false;
    try {
      await Promise.all(fds.map((fd) => sync(fd, true)));
      if (dirToo) await syncDir(this.dir);
      this.syncedGen = gen;
    } catch (error) {
      this.failedGen = gen;
      this.logger.error('custody fdatasync failed; the batches written since are not acknowledged', { dir: this.dir, error: reasonOf(error) });
      // The failed file's pages may be dropped: write on in a new segment.
      this.retire();
    }
    this.syncingFds = new Set();
    for (const fd of [...this.retiring]) {
      if (this.unsynced.has(fd)) continue;
      this.retiring.delete(fd);
      closeSync(fd);
    }
  }

  private rotate(): void {
    this.retire();
    const no = this.nextNo++;
    const segment: LogSegment = { no, path: join(this.dir, segmentName(no)), bytes: 0, live: 0 };
    this.appendFd = openSync(segment.path, 'a');
    this.segments.set(no, segment);
    this.active = segment;
    // The new file's directory entry must be durable before anything in it is acknowledged.
    this.dirUnsynced = true;
  }

  /** Stops appending to the active segment; its fd closes once its last fdatasync is done. */
  private retire(): void {
    const fd = this.appendFd;
    const old = this.active;
    this.appendFd = undefined;
    this.active = undefined;
    if (fd !== undefined) {
      if (this.unsynced.has(fd) || this.syncingFds.has(fd)) this.retiring.add(fd);
      else closeSync(fd);
    }
    if (old && old.live === 0 && this.segments.has(old.no)) this.remove(old);
  }

  private remove(segment: LogSegment): void {
    this.segments.delete(segment.no);
    this.diskBytes -= segment.bytes;
    if (segment.readFd !== undefined) closeSync(segment.readFd);
    segment.readFd = undefined;
    try {
      unlinkSync(segment.path);
    } catch (error) {
      this.logger.warn('custody segment not removed', { path: segment.path, error: reasonOf(error) });
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await sync(fd, false);
  } catch (error) {
    // tmpfs and some FUSE filesystems cannot fsync a directory; the entry is as durable as it gets.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw error;
  } finally {
    closeSync(fd);
  }
}
