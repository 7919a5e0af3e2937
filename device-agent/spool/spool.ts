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
import { mkdirSync } from 'node:fs';
import { silentLogger, type Logger } from '../../common/logger.js';
import type { BatchRefusal, SpoolReport } from '../../protocol/index.js';
import { LossLedger, type DropReason } from './ledger.js';
import type { SeqRange } from './ranges.js';
import { encodeRecord, RECORD_HEADER_BYTES } from './record.js';
import { recoverSpool } from './recovery.js';
import { SegmentFiles, type Segment } from './segments.js';

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

/** A refused result, with its payload when it could still be read. */
export interface RefusedEntry extends BatchRefusal {
  readonly seq: number;
  readonly payload: Buffer | undefined;
}

const DEFAULT_FSYNC_INTERVAL_MS = 100;
/**
 * Settled entries kept before the index is compacted: small, so a spool that keeps up holds a
 * few dozen entries, not an hour of results (4096 did: the soak's agent memory growth). Only once
 * half the index is settled, so a compaction moves fewer entries than it frees (amortised O(1)).
 */
export const COMPACT_AFTER_SETTLED = 64;
/** Memory held for records the disk refused. */
const MAX_MEMORY_BYTES = 8 * 1024 * 1024;

export class Spool {
  private readonly entries: SpoolEntry[] = [];
  /** Index of the oldest entry not yet done; everything before it is acked or dropped. */
  private head = 0;
  /** Index of the next entry to publish. */
  private cursor = 0;
  private readonly files: SegmentFiles;
  private memoryBytes = 0;
  private rescuedBytes = 0;
  private lastSeq = -1;
  private readonly ledger: LossLedger;
  private readonly logger: Logger;
  private readonly now: () => number;
  private usable: boolean;
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly options: SpoolOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.ledger = new LossLedger(dir, this.logger, this.now);
    // Several segments per spool, so dropping the oldest frees space in modest steps.
    const segmentBytes = Math.max(64 * 1024, Math.min(4 * 1024 * 1024, Math.floor(options.maxBytes / 8)));
    const fsyncIntervalMs = options.fsyncIntervalMs ?? DEFAULT_FSYNC_INTERVAL_MS;
    this.files = new SegmentFiles(dir, segmentBytes, fsyncIntervalMs, this.logger, (error) => this.noteFailure('spool fsync failed', error));
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

  /** Entries the index holds, settled ones not yet compacted away included: what its memory grows with. */
  get indexedEntries(): number {
    return this.entries.length;
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

  /** The seq of the oldest published, unacked entry; undefined if none. */
  oldestInflightSeq(): number | undefined {
    for (let i = this.head; i < this.cursor; i++) {
      const entry = this.entries[i]!;
      if (!entry.done && entry.sentAt > 0) return entry.seq;
    }
    return undefined;
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

  /**
   * The API will never store these [WF-P-NACK-1]: forgotten now, never resent, each counted as
   * lost with its reason. Returns the ones that were still pending, with their payloads.
   */
  refuse(refusals: readonly BatchRefusal[]): RefusedEntry[] {
    const out: RefusedEntry[] = [];
    for (const refusal of refusals) {
      if (refusal.seq === null) continue;
      const entry = this.entries[this.indexOf(refusal.seq)];
      if (!entry || entry.seq !== refusal.seq || entry.done) continue;
      const payload = entry.payload ?? (entry.segment ? this.readPayload(entry) : undefined);
      if (entry.done) continue; // unreadable: readPayload counted it as lost already
      this.settle(entry);
      this.ledger.refuse(entry.seq, refusal.reason);
      out.push({ ...refusal, seq: entry.seq, payload });
    }
    this.advanceHead();
    if (out.length > 0) this.saveSoon();
    return out;
  }

  report(): SpoolReport {
    return this.ledger.report(this.pending, this.files.bytes + this.memoryBytes + this.rescuedBytes);
  }

  /** Writes what is buffered to the medium now. */
  sync(): Promise<void> {
    return this.files.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync();
    this.closed = true;
    await this.ledger.close(this.usable ? this.ackedBelow() : undefined);
    this.files.closeFds();
  }

  // --- disk -------------------------------------------------------------------------------

  private writeRecord(seq: number, writtenAt: number, record: Buffer): SpoolEntry | undefined {
    try {
      const { segment, offset } = this.files.write(record);
      return { seq, writtenAt, size: record.byteLength, segment, offset, payload: undefined, sentAt: 0, everSent: false, rescued: false, done: false };
    } catch (error) {
      this.noteFailure('spool write failed; the result is kept in memory and sent live', error, seq);
      return undefined;
    }
  }

  private readPayload(entry: SpoolEntry): Buffer | undefined {
    try {
      return this.files.read(entry.segment!, entry.offset, entry.size, entry.seq);
    } catch (error) {
      this.noteFailure('spooled result unreadable; counted as lost', error, entry.seq, false);
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
      const live = found.records.filter((record) => record.seq >= ackedBelow);
      const segment = this.files.adopt(found.no, found.path, found.bytes, 0);
      for (const record of live) {
        if (record.seq <= this.lastSeq) continue;
        // The same literal shape as a fresh write's entry: a spread of the record made each one a
        // dictionary-mode object, 3.7x the heap, which on a full gateway spool is hundreds of MiB.
        this.entries.push({ seq: record.seq, writtenAt: record.writtenAt, size: record.size, segment, offset: record.offset, payload: undefined, sentAt: 0, everSent: false, rescued: false, done: false });
        segment.live += 1;
        this.lastSeq = record.seq;
      }
      last = segment;
    }
    this.files.resume(last, recovered.highestNo, (error) => this.noteFailure('spool segment not writable', error));
    if (this.entries.length > 0) this.logger.info('spool recovered', { pending: this.entries.length, bytes: this.files.bytes });
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
    while (this.files.bytes + this.memoryBytes + incoming > this.options.maxBytes) {
      const oldest = this.files.oldest();
      if (!oldest) {
        if (!this.dropOldestMemory()) return;
        continue;
      }
      for (let i = this.head; i < this.entries.length; i++) {
        const entry = this.entries[i]!;
        if (entry.segment !== oldest || entry.done) continue;
        if (entry.everSent) this.rescue(entry);
        else this.drop(entry, 'droppedFull');
      }
      this.files.discard(oldest);
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
      this.files.release(entry.segment);
    } else if (entry.payload) {
      if (entry.rescued) this.rescuedBytes -= entry.payload.byteLength;
      else this.memoryBytes -= entry.payload.byteLength;
    }
    entry.payload = undefined;
  }

  private advanceHead(): void {
    while (this.head < this.entries.length && this.entries[this.head]!.done) this.head += 1;
    if (this.cursor < this.head) this.cursor = this.head;
    // Compact now and then so the array does not grow with everything ever spooled.
    if (this.head >= COMPACT_AFTER_SETTLED && this.head * 2 >= this.entries.length) {
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

  private noteFailure(message: string, error: unknown, seq?: number, countAsWrite = true): void {
    this.ledger.failure(message, error, seq === undefined ? {} : { seq }, countAsWrite);
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
}

export { RECORD_HEADER_BYTES };
