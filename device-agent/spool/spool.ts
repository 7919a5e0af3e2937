/**
 * The results spool: every result batch is appended here before it is published, and forgotten
 * only when the fleet API acknowledges it as stored in SQLite [WF-P-T-8] (a broker PUBACK is not
 * enough: the API may crash between). So nothing is lost between "published" and "stored".
 *
 * On disk: numbered append-only segment files of CRC-checked records (record.ts), fsync'd in
 * batches, plus state.json (the acked watermark and the loss counters). Bounded by the profile's
 * `spool.maxBytes` (oldest segment dropped) and `spool.maxAgeS` (oldest records dropped); every
 * drop is counted and its seq remembered, so loss is exact and visible in the reported state.
 *
 * A failing disk (full, I/O error, not writable) never stops the agent: the record is kept in a
 * bounded memory queue instead, the failure is logged and counted, and results still go out live.
 */
import { closeSync, fsync, ftruncateSync, mkdirSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import type { SpoolReport } from '../../protocol/index.js';
import { LossLedger, type DropReason } from './ledger.js';
import type { SeqRange } from './ranges.js';
import { encodeRecord, RECORD_HEADER_BYTES, recordPayload, scanSegment } from './record.js';
import { recoverSpool, segmentName } from './recovery.js';

export interface SpoolLimits {
  readonly maxBytes: number;
  readonly maxAgeS: number;
}

export interface SpoolOptions extends SpoolLimits {
  readonly logger?: Logger;
  /** Longest a written record waits for its fsync. */
  readonly fsyncIntervalMs?: number;
  readonly now?: () => number;
}

export interface SpoolEntry {
  readonly seq: number;
  readonly writtenAt: number;
  readonly size: number;
  /** Null when the record is held in memory: the disk refused it, or it was rescued (below). */
  segment: Segment | null;
  /**
   * Published before its segment had to go for space: it may already be stored, so it is kept in
   * memory and sent again rather than counted as dropped (bounded by the sender's window).
   */
  rescued: boolean;
  readonly offset: number;
  payload: Buffer | undefined;
  /** 0 until published; then when it was last published. */
  sentAt: number;
  everSent: boolean;
  done: boolean;
}

interface Segment {
  readonly no: number;
  readonly path: string;
  bytes: number;
  /** Entries in it not yet acked or dropped. */
  live: number;
  readFd?: number;
}

const DEFAULT_FSYNC_INTERVAL_MS = 100;
/** Memory held for records the disk refused. */
const MAX_MEMORY_BYTES = 8 * 1024 * 1024;

export class Spool {
  private readonly entries: SpoolEntry[] = [];
  /** Index of the oldest entry not yet done; everything before it is acked or dropped. */
  private head = 0;
  /** Index of the next entry to publish. */
  private cursor = 0;
  private readonly segments = new Map<number, Segment>();
  private active: Segment | undefined;
  private appendFd: number | undefined;
  private readonly segmentBytes: number;
  private diskBytes = 0;
  private memoryBytes = 0;
  private rescuedBytes = 0;
  private lastSeq = -1;
  private readonly ledger: LossLedger;
  private dirty = 0;
  private fsyncTimer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly fsyncIntervalMs: number;
  private usable: boolean;
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly options: SpoolOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.fsyncIntervalMs = options.fsyncIntervalMs ?? DEFAULT_FSYNC_INTERVAL_MS;
    // Several segments per spool, so dropping the oldest frees space in modest steps.
    this.segmentBytes = Math.max(64 * 1024, Math.min(4 * 1024 * 1024, Math.floor(options.maxBytes / 8)));
    this.ledger = new LossLedger(dir, this.logger, this.now);
    this.usable = this.recover(this.ledger.ackedBelowAtStart);
  }

  /** Called when a loss counter changes, so the agent can report it. */
  set onLoss(callback: (() => void) | undefined) {
    this.ledger.onLoss = callback;
  }

  /** Results written and not yet acked or dropped. */
  get pending(): number {
    let count = 0;
    for (let i = this.head; i < this.entries.length; i++) if (!this.entries[i]!.done) count += 1;
    return count;
  }

  /** Entries not yet published since the last rewind. */
  get unsentCount(): number {
    return this.entries.length - this.cursor;
  }

  get inflight(): number {
    let count = 0;
    for (let i = this.head; i < this.cursor; i++) if (!this.entries[i]!.done) count += 1;
    return count;
  }

  /** Appends one encoded ResultBatch. Never throws: a disk failure keeps it in memory, counted. */
  append(seq: number, payload: Buffer): void {
    if (this.closed) return;
    const writtenAt = this.now();
    this.expire(writtenAt);
    const record = encodeRecord(seq, writtenAt, payload);
    this.makeRoom(record.byteLength);
    let entry: SpoolEntry | undefined;
    if (this.usable) entry = this.writeRecord(seq, writtenAt, record);
    if (!entry) {
      while (this.memoryBytes + payload.byteLength > Math.min(MAX_MEMORY_BYTES, this.options.maxBytes) && this.dropOldestMemory()) {
        // dropOldestMemory counts what it drops
      }
      entry = { seq, writtenAt, size: payload.byteLength, segment: null, offset: 0, payload, sentAt: 0, everSent: false, rescued: false, done: false };
      this.memoryBytes += payload.byteLength;
    }
    this.entries.push(entry);
    this.lastSeq = Math.max(this.lastSeq, seq);
  }

  /** Counts a seq that was taken but produced nothing sendable (e.g. an unencodable batch). */
  recordLost(seq: number): void {
    this.ledger.drop(seq, 'lost');
    this.saveSoon();
  }

  /**
   * The next unsent entries in seq order with their payloads, at most `maxCount` and about
   * `maxBytes`; they count as sent (awaiting the API's ack) from now.
   */
  takeUnsent(maxCount: number, maxBytes: number): { seq: number; payload: Buffer }[] {
    this.expire(this.now());
    const out: { seq: number; payload: Buffer }[] = [];
    let bytes = 0;
    const sentAt = this.now();
    while (this.cursor < this.entries.length && out.length < maxCount && bytes < maxBytes) {
      const entry = this.entries[this.cursor]!;
      this.cursor += 1;
      if (entry.done) continue;
      const payload = entry.payload ?? this.readPayload(entry);
      if (!payload) continue;
      entry.sentAt = sentAt;
      entry.everSent = true;
      bytes += payload.byteLength;
      out.push({ seq: entry.seq, payload });
    }
    return out;
  }

  /** Published entries go back to unsent: after a reconnect, or when their ack is overdue. */
  rewind(): void {
    this.cursor = this.head;
    for (let i = this.head; i < this.entries.length; i++) this.entries[i]!.sentAt = 0;
  }

  /** When the oldest published, unacked entry was published; 0 if none. */
  oldestInflightSentAt(): number {
    for (let i = this.head; i < this.cursor; i++) {
      const entry = this.entries[i]!;
      if (!entry.done && entry.sentAt > 0) return entry.sentAt;
    }
    return 0;
  }

  /** The API stored these seqs: forget them. Returns how many pending entries that settled. */
  ack(ranges: readonly SeqRange[]): number {
    let settled = 0;
    for (const [first, last] of ranges) {
      let index = this.indexOf(first);
      for (; index < this.entries.length; index++) {
        const entry = this.entries[index]!;
        if (entry.seq > last) break;
        if (entry.done) continue;
        this.settle(entry);
        settled += 1;
      }
      // A seq dropped after it was published may have been stored after all: then it is not lost.
      this.ledger.stored(first, last);
    }
    this.advanceHead();
    if (settled > 0) this.saveSoon();
    return settled;
  }

  report(): SpoolReport {
    return this.ledger.report(this.pending, this.diskBytes + this.memoryBytes + this.rescuedBytes);
  }

  /** Writes what is buffered to the medium now. */
  async sync(): Promise<void> {
    clearTimeout(this.fsyncTimer);
    this.fsyncTimer = undefined;
    if (this.dirty === 0 || this.appendFd === undefined) return;
    this.dirty = 0;
    const fd = this.appendFd;
    await new Promise<void>((resolve) =>
      fsync(fd, (error) => {
        if (error) this.noteFailure('spool fsync failed', error);
        resolve();
      }),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync();
    this.closed = true;
    await this.ledger.close(this.usable ? this.ackedBelow() : undefined);
    this.closeFds();
  }

  // --- disk -------------------------------------------------------------------------------

  private writeRecord(seq: number, writtenAt: number, record: Buffer): SpoolEntry | undefined {
    try {
      if (!this.active || this.active.bytes + record.byteLength > this.segmentBytes) this.rotate();
      const segment = this.active!;
      const written = writeSync(this.appendFd!, record);
      if (written !== record.byteLength) throw new Error(`short write: ${written} of ${record.byteLength} bytes`);
      const entry: SpoolEntry = { seq, writtenAt, size: record.byteLength, segment, offset: segment.bytes, payload: undefined, sentAt: 0, everSent: false, rescued: false, done: false };
      segment.bytes += record.byteLength;
      segment.live += 1;
      this.diskBytes += record.byteLength;
      this.dirty += record.byteLength;
      this.fsyncTimer ??= setTimeout(() => void this.sync(), this.fsyncIntervalMs);
      return entry;
    } catch (error) {
      this.noteFailure('spool write failed; the result is kept in memory and sent live', error, seq);
      // A partial record would read as a torn tail; cut it so later appends stay readable.
      if (this.appendFd !== undefined && this.active) {
        try {
          ftruncateSync(this.appendFd, this.active.bytes);
        } catch {
          // not a regular file (e.g. /dev/full) or the disk is gone: nothing to cut
        }
      }
      return undefined;
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

  private readPayload(entry: SpoolEntry): Buffer | undefined {
    const segment = entry.segment!;
    try {
      segment.readFd ??= openSync(segment.path, 'r');
      const bytes = Buffer.allocUnsafe(entry.size);
      const read = readSync(segment.readFd, bytes, 0, entry.size, entry.offset);
      if (read !== entry.size) throw new Error(`short read at ${entry.offset}`);
      const scan = scanSegment(bytes);
      if (scan.records.length !== 1) throw new Error(`record ${entry.seq} fails its checksum`);
      return recordPayload(bytes, scan.records[0]!);
    } catch (error) {
      this.noteFailure('spooled result unreadable; counted as lost', error, entry.seq);
      this.drop(entry, 'lost');
      return undefined;
    }
  }

  private recover(ackedBelow: number): boolean {
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (error) {
      this.noteFailure('spool directory unusable; results are kept in memory and sent live', error);
      return false;
    }
    const recovered = recoverSpool(this.dir, this.ledger, this.logger);
    if (!recovered) return false;
    let last: Segment | undefined;
    for (const found of recovered.segments) {
      const segment: Segment = { no: found.no, path: found.path, bytes: found.bytes, live: 0 };
      for (const record of found.records) {
        if (record.seq < ackedBelow || record.seq <= this.lastSeq) continue;
        this.entries.push({ ...record, segment, payload: undefined, sentAt: 0, everSent: false, rescued: false, done: false });
        segment.live += 1;
        this.lastSeq = record.seq;
      }
      this.segments.set(segment.no, segment);
      this.diskBytes += segment.bytes;
      last = segment;
    }
    for (const segment of [...this.segments.values()]) if (segment.live === 0 && segment !== last) this.removeSegment(segment);
    if (last) {
      try {
        this.appendFd = openSync(last.path, 'a');
        this.active = last;
      } catch (error) {
        this.noteFailure('spool segment not writable', error);
      }
    } else if (recovered.highestNo > 0) {
      // Only unreadable entries: number new segments so the first reuses the lowest such name
      // (a broken entry stays broken, and the failure shows) rather than silently skipping it.
      this.active = { no: recovered.highestNo - 1, path: '', bytes: Infinity, live: 0 };
    }
    if (this.entries.length > 0) this.logger.info('spool recovered', { pending: this.entries.length, bytes: this.diskBytes });
    return true;
  }

  // --- bounds and bookkeeping ---------------------------------------------------------------

  private expire(now: number): void {
    const cutoff = now - this.options.maxAgeS * 1000;
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (entry.writtenAt >= cutoff) break;
      if (!entry.done) this.drop(entry, 'droppedAge');
    }
    this.advanceHead();
  }

  /** Drops whole oldest segments until `incoming` more bytes fit under maxBytes. */
  private makeRoom(incoming: number): void {
    while (this.diskBytes + this.memoryBytes + incoming > this.options.maxBytes) {
      const oldest = [...this.segments.values()].sort((a, b) => a.no - b.no)[0];
      if (!oldest || (oldest === this.active && this.segments.size === 1 && oldest.bytes === 0)) {
        if (!this.dropOldestMemory()) return;
        continue;
      }
      for (let i = this.head; i < this.entries.length; i++) {
        const entry = this.entries[i]!;
        if (entry.segment !== oldest || entry.done) continue;
        if (entry.everSent) this.rescue(entry);
        else this.drop(entry, 'droppedFull');
      }
      if (oldest === this.active) {
        this.active = undefined;
        if (this.appendFd !== undefined) closeSync(this.appendFd);
        this.appendFd = undefined;
        // Keep numbering upwards so a segment name is never reused while readers may hold it.
        this.active = { no: oldest.no, path: '', bytes: Infinity, live: 0 };
      }
      this.removeSegment(oldest);
      this.advanceHead();
    }
  }

  private rescue(entry: SpoolEntry): void {
    const payload = this.readPayload(entry);
    if (!payload) return;
    entry.segment!.live -= 1;
    entry.segment = null;
    entry.payload = payload;
    entry.rescued = true;
    this.rescuedBytes += payload.byteLength;
  }

  private dropOldestMemory(): boolean {
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (!entry.done && entry.segment === null && !entry.rescued) {
        this.drop(entry, 'lost');
        this.advanceHead();
        return true;
      }
    }
    return false;
  }

  private drop(entry: SpoolEntry, reason: DropReason): void {
    this.settle(entry);
    this.ledger.drop(entry.seq, reason, entry.everSent);
    this.saveSoon();
  }

  private settle(entry: SpoolEntry): void {
    entry.done = true;
    if (entry.segment) {
      entry.segment.live -= 1;
      if (entry.segment.live === 0 && entry.segment !== this.active && this.segments.has(entry.segment.no)) this.removeSegment(entry.segment);
    } else if (entry.payload) {
      if (entry.rescued) this.rescuedBytes -= entry.payload.byteLength;
      else this.memoryBytes -= entry.payload.byteLength;
    }
    entry.payload = undefined;
  }

  private removeSegment(segment: Segment): void {
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

  private advanceHead(): void {
    while (this.head < this.entries.length && this.entries[this.head]!.done) this.head += 1;
    if (this.cursor < this.head) this.cursor = this.head;
    // Compact now and then so the array does not grow with everything ever spooled.
    if (this.head > 4096 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.cursor -= this.head;
      this.head = 0;
    }
  }

  private indexOf(seq: number): number {
    let low = this.head;
    let high = this.entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.entries[mid]!.seq < seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private noteFailure(message: string, error: unknown, seq?: number): void {
    this.ledger.failure(message, error, seq === undefined ? {} : { seq }, !message.startsWith('spooled result unreadable'));
  }

  // --- the acked watermark (kept in state.json by the ledger) -------------------------------

  private saveSoon(): void {
    // With no usable directory there is nowhere to save, and saying so each time adds nothing.
    if (this.usable) this.ledger.scheduleSave(() => this.ackedBelow());
  }

  private ackedBelow(): number {
    for (let i = this.head; i < this.entries.length; i++) if (!this.entries[i]!.done) return this.entries[i]!.seq;
    return this.lastSeq + 1;
  }

  private closeFds(): void {
    if (this.appendFd !== undefined) closeSync(this.appendFd);
    this.appendFd = undefined;
    for (const segment of this.segments.values()) {
      if (segment.readFd !== undefined) closeSync(segment.readFd);
      segment.readFd = undefined;
    }
  }
}

export { RECORD_HEADER_BYTES };
