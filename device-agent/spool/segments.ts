/**
 * The spool's files: numbered append-only segments of CRC-checked records (record.ts), the one
 * being appended to, fsync in batches (at most `fsyncIntervalMs` after a write), reads of single
 * records, and removal of a segment once nothing in it is pending. It knows bytes and segments,
 * not which results are acked: that bookkeeping is the Spool's (spool.ts).
 */
import { closeSync, fsync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { recordPayload, scanSegment } from './record.js';
import { segmentName } from './recovery.js';

export interface Segment {
  readonly no: number;
  readonly path: string;
  bytes: number;
  /** Entries in it not yet acked or dropped. */
  live: number;
  readFd?: number;
}

export class SegmentFiles {
  private readonly segments = new Map<number, Segment>();
  private active: Segment | undefined;
  private appendFd: number | undefined;
  private dirty = 0;
  private fsyncTimer: NodeJS.Timeout | undefined;
  /** Bytes of every segment on disk. */
  private diskBytes = 0;

  constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    private readonly fsyncIntervalMs: number,
    private readonly logger: Logger,
    private readonly onSyncFailure: (error: unknown) => void,
  ) {}

  get bytes(): number {
    return this.diskBytes;
  }

  /** Appends one record; throws on a failed or short write, after cutting the partial record off. */
  write(record: Buffer): { segment: Segment; offset: number } {
    try {
      if (!this.active || this.active.bytes + record.byteLength > this.segmentBytes) this.rotate();
      const segment = this.active!;
      const written = writeSync(this.appendFd!, record);
      if (written !== record.byteLength) throw new Error(`short write: ${written} of ${record.byteLength} bytes`);
      const offset = segment.bytes;
      segment.bytes += record.byteLength;
      segment.live += 1;
      this.diskBytes += record.byteLength;
      this.dirty += record.byteLength;
      this.fsyncTimer ??= setTimeout(() => void this.sync(), this.fsyncIntervalMs);
      return { segment, offset };
    } catch (error) {
      // A partial record would read as a torn tail; cut it so later appends stay readable.
      if (this.appendFd !== undefined && this.active) {
        try {
          ftruncateSync(this.appendFd, this.active.bytes);
        } catch {
          // not a regular file (e.g. /dev/full) or the disk is gone: nothing to cut
        }
      }
      throw error;
    }
  }

  /** The payload of the record at `offset`; throws if it is short or fails its checksum. */
  read(segment: Segment, offset: number, size: number, seq: number): Buffer {
    segment.readFd ??= openSync(segment.path, 'r');
    const bytes = Buffer.allocUnsafe(size);
    const read = readSync(segment.readFd, bytes, 0, size, offset);
    if (read !== size) throw new Error(`short read at ${offset}`);
    const scan = scanSegment(bytes);
    if (scan.records.length !== 1) throw new Error(`record ${seq} fails its checksum`);
    return recordPayload(bytes, scan.records[0]!);
  }

  /** One entry of `segment` is settled; an emptied segment no longer appended to is removed. */
  release(segment: Segment): void {
    segment.live -= 1;
    if (segment.live === 0 && segment !== this.active && this.segments.has(segment.no)) this.remove(segment);
  }

  /** The oldest segment that holds anything, or undefined when only an empty active one is left. */
  oldest(): Segment | undefined {
    let oldest: Segment | undefined;
    for (const segment of this.segments.values()) if (!oldest || segment.no < oldest.no) oldest = segment;
    if (oldest === this.active && this.segments.size === 1 && oldest?.bytes === 0) return undefined;
    return oldest;
  }

  /** Removes a whole segment to make room, even the one being appended to. */
  discard(segment: Segment): void {
    if (segment === this.active) {
      if (this.appendFd !== undefined) closeSync(this.appendFd);
      this.appendFd = undefined;
      // Keep numbering upwards so a segment name is never reused while readers may hold it.
      this.active = { no: segment.no, path: '', bytes: Infinity, live: 0 };
    }
    this.remove(segment);
  }

  // --- recovery --------------------------------------------------------------------------------

  /** Takes over a segment found on disk, with `live` pending entries in it. */
  adopt(no: number, path: string, bytes: number, live: number): Segment {
    const segment: Segment = { no, path, bytes, live };
    this.segments.set(no, segment);
    this.diskBytes += bytes;
    return segment;
  }

  /**
   * After adopting: removes segments with nothing pending (but the newest, which appends go on
   * after), or, with no segment readable, numbers new ones from `highestNo` onwards.
   */
  resume(last: Segment | undefined, highestNo: number, onFailure: (error: unknown) => void): void {
    for (const segment of [...this.segments.values()]) if (segment.live === 0 && segment !== last) this.remove(segment);
    if (last) {
      try {
        this.appendFd = openSync(last.path, 'a');
        this.active = last;
      } catch (error) {
        onFailure(error);
      }
    } else if (highestNo > 0) {
      // Only unreadable entries: number new segments so the first reuses the lowest such name
      // (a broken entry stays broken, and the failure shows) rather than silently skipping it.
      this.active = { no: highestNo - 1, path: '', bytes: Infinity, live: 0 };
    }
  }

  // --- durability ------------------------------------------------------------------------------

  /** Writes what is buffered to the medium now. */
  async sync(): Promise<void> {
    clearTimeout(this.fsyncTimer);
    this.fsyncTimer = undefined;
    if (this.dirty === 0 || this.appendFd === undefined) return;
    this.dirty = 0;
    const fd = this.appendFd;
    await new Promise<void>((resolve) =>
      fsync(fd, (error) => {
        if (error) this.onSyncFailure(error);
        resolve();
      }),
    );
  }

  closeFds(): void {
    if (this.appendFd !== undefined) closeSync(this.appendFd);
    this.appendFd = undefined;
    for (const segment of this.segments.values()) {
      if (segment.readFd !== undefined) closeSync(segment.readFd);
      segment.readFd = undefined;
    }
  }

  private rotate(): void {
    if (this.appendFd !== undefined) {
      const fd = this.appendFd;
      this.appendFd = undefined;
      // The old segment's last batch still needs its fsync before the fd goes.
      fsync(fd, () => closeSync(fd));
      this.dirty = 0;
    }
    const no = this.active ? this.active.no + 1 : 1;
    const segment: Segment = { no, path: join(this.dir, segmentName(no)), bytes: 0, live: 0 };
    this.appendFd = openSync(segment.path, 'a');
    this.segments.set(no, segment);
    this.active = segment;
  }

  private remove(segment: Segment): void {
    this.segments.delete(segment.no);
    this.diskBytes -= segment.bytes;
    if (segment.readFd !== undefined) closeSync(segment.readFd);
    segment.readFd = undefined;
    try {
      unlinkSync(segment.path);
    } catch (error) {
      this.logger.warn('spool segment not removed', { path: segment.path, error: reasonOf(error) });
    }
  }
}
