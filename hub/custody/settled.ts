/**
 * What custody has let go of, kept in `state.json` beside the segments: per device, the seqs that
 * left custody (acknowledged or refused upstream, or dropped), and the loss counters, so both
 * survive a restart. The seqs make a device's resend of a batch already forwarded harmless: it
 * is acknowledged again, not stored twice. Recovery skips records whose seq is listed here.
 *
 * Bounded per device: past MAX_RANGES the oldest range is forgotten, never merged over a gap (a
 * merge would acknowledge a batch never stored). Forgetting only risks a harmless resend upstream.
 * The file is written atomically, coalesced; a crash before a write loses at most that much
 * bookkeeping, which again only means a harmless resend upstream (`(deviceId, seq)` is unique).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { writeFileAtomic } from '../../device-agent/state/atomic-file.js';
import { isDeviceId } from '../../protocol/index.js';

export type SeqRange = [number, number];

const STATE_FILE = 'state.json';
const SAVE_DELAY_MS = 500;
export const MAX_RANGES = 64;
/** HubStatus.lost allows 16 keys of 40 characters. */
const MAX_LOSS_KEYS = 16;

/** Sorted, disjoint, non-adjacent ranges of one device's settled seqs. */
export class SettledRanges {
  constructor(private ranges: SeqRange[] = []) {}

  has(seq: number): boolean {
    let low = 0;
    let high = this.ranges.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const [first, last] = this.ranges[mid]!;
      if (seq < first) high = mid - 1;
      else if (seq > last) low = mid + 1;
      else return true;
    }
    return false;
  }

  add(first: number, last: number): void {
    const tail = this.ranges[this.ranges.length - 1];
    // Settling is mostly in seq order: extend or follow the newest range.
    if (tail && first >= tail[0] && first <= tail[1] + 1) tail[1] = Math.max(tail[1], last);
    else if (!tail || first > tail[1] + 1) this.ranges.push([first, last]);
    else {
      const merged: SeqRange[] = [];
      for (const range of [...this.ranges, [first, last] as SeqRange].sort((a, b) => a[0] - b[0])) {
        const previous = merged[merged.length - 1];
        if (previous && range[0] <= previous[1] + 1) previous[1] = Math.max(previous[1], range[1]);
        else merged.push([range[0], range[1]]);
      }
      this.ranges = merged;
    }
    if (this.ranges.length > MAX_RANGES) this.ranges.splice(0, this.ranges.length - MAX_RANGES);
  }

  toJSON(): SeqRange[] {
    return this.ranges.map(([a, b]) => [a, b]);
  }
}

export class CustodyState {
  private readonly settled = new Map<string, SettledRanges>();
  private readonly lostBy: Record<string, number> = {};
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {
    this.read();
  }

  isSettled(deviceId: string, seq: number): boolean {
    return this.settled.get(deviceId)?.has(seq) ?? false;
  }

  settle(deviceId: string, first: number, last = first): void {
    let ranges = this.settled.get(deviceId);
    if (!ranges) this.settled.set(deviceId, (ranges = new SettledRanges()));
    ranges.add(first, last);
    this.saveSoon();
  }

  /** Counts one batch lost for `reason` (e.g. `droppedAge`, `refused:schema`). */
  lose(reason: string): void {
    const key = reason in this.lostBy || Object.keys(this.lostBy).length < MAX_LOSS_KEYS - 1 ? reason : 'other';
    this.lostBy[key] = (this.lostBy[key] ?? 0) + 1;
    this.saveSoon();
  }

  /** A loss counted too early: the batch turned out stored upstream after all. */
  unlose(reason: string): void {
    if ((this.lostBy[reason] ?? 0) > 0) this.lostBy[reason]! -= 1;
    this.saveSoon();
  }

  lost(): Record<string, number> {
    return { ...this.lostBy };
  }

  saveSoon(): void {
    if (this.saveTimer || this.closed) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, SAVE_DELAY_MS);
    this.saveTimer.unref();
  }

  async close(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.save();
    this.closed = true;
    await this.saving;
  }

  private save(): void {
    const settled: Record<string, SeqRange[]> = {};
    for (const [deviceId, ranges] of this.settled) settled[deviceId] = ranges.toJSON();
    const body = `${JSON.stringify({ v: 1, lost: this.lostBy, settled })}\n`;
    this.saving = this.saving.then(() =>
      writeFileAtomic(join(this.dir, STATE_FILE), body).catch((error) => {
        this.logger.error('custody state not saved', { dir: this.dir, error: reasonOf(error) });
      }),
    );
  }

  private read(): void {
    let parsed: { lost?: unknown; settled?: unknown };
    try {
      parsed = JSON.parse(readFileSync(join(this.dir, STATE_FILE), 'utf8')) as typeof parsed;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn('custody state unreadable; starting without it', { error: reasonOf(error) });
      return;
    }
    const isSeq = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
    if (typeof parsed.lost === 'object' && parsed.lost !== null) {
      for (const [reason, count] of Object.entries(parsed.lost)) {
        if (isSeq(count) && reason.length <= 40 && Object.keys(this.lostBy).length < MAX_LOSS_KEYS) this.lostBy[reason] = count;
      }
    }
    if (typeof parsed.settled === 'object' && parsed.settled !== null) {
      for (const [deviceId, list] of Object.entries(parsed.settled)) {
        if (!isDeviceId(deviceId) || !Array.isArray(list)) continue;
        const ranges = new SettledRanges();
        for (const range of list as unknown[]) {
          if (Array.isArray(range) && isSeq(range[0]) && isSeq(range[1]) && range[0] <= range[1]) ranges.add(range[0], range[1]);
        }
        this.settled.set(deviceId, ranges);
      }
    }
  }
}
