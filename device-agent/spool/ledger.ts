/**
 * The spool's loss ledger: every result seq the spool gave up on, why, and every disk failure,
 * kept in `state.json` beside the segments (with the acked watermark) so the counts are
 * cumulative across restarts. Each reason is logged once a minute, not once per result.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { REFUSAL_REASONS, type RefusalReason, type SpoolReport } from '../../protocol/index.js';
import { writeFileAtomic } from '../state/atomic-file.js';
import { SeqRanges, type SeqRange } from './ranges.js';

export type DropReason = 'droppedFull' | 'droppedAge' | 'lost' | 'refused';

const STATE_FILE = 'state.json';
const STATE_SAVE_DELAY_MS = 500;
const MAX_DROPPED_RANGES = 64;
const LOG_INTERVAL_MS = 60_000;
const MAX_MAYBE_STORED = 100_000;
const DROP_MESSAGES: Record<DropReason, string> = {
  droppedFull: 'spool full (spool.maxBytes): oldest results dropped and counted',
  droppedAge: 'spooled results older than spool.maxAgeS dropped and counted',
  lost: 'results lost: neither spooled nor sendable; counted',
  refused: 'results refused by the fleet API: forgotten, not resent, counted',
};
const COUNTERS = ['droppedFull', 'droppedAge', 'torn', 'writeFailures', 'lost', 'refused'] as const;

type Counters = { droppedFull: number; droppedAge: number; torn: number; writeFailures: number; lost: number; refused: number };
type RefusedBy = Partial<Record<RefusalReason, number>>;

export class LossLedger {
  private readonly counters: Counters = { droppedFull: 0, droppedAge: 0, torn: 0, writeFailures: 0, lost: 0, refused: 0 };
  private readonly refusedBy: RefusedBy = {};
  private readonly dropped: SeqRanges;
  /** Dropped after being published, so an ack may still prove them stored. */
  private readonly maybeStored = new Map<number, DropReason>();
  private lastError: string | undefined;
  private readonly loggedAt = new Map<string, number>();
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  /** What the spool had acked when state.json was last written; the spool skips records below it. */
  readonly ackedBelowAtStart: number;
  /** Called when a loss counter changes, so the agent can report it. */
  onLoss: (() => void) | undefined;

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {
    const state = readState(dir);
    this.ackedBelowAtStart = state.ackedBelow;
    this.dropped = new SeqRanges(MAX_DROPPED_RANGES, state.droppedRanges);
    Object.assign(this.counters, state.counters);
    Object.assign(this.refusedBy, state.refusedBy);
  }

  /** A seq the API refused to store [WF-P-NACK-1]: lost for good, counted under its reason. */
  refuse(seq: number, reason: RefusalReason): void {
    this.refusedBy[reason] = (this.refusedBy[reason] ?? 0) + 1;
    this.drop(seq, 'refused');
  }

  drop(seq: number, reason: DropReason, maybeStored = false): void {
    this.counters[reason] += 1;
    this.dropped.add(seq);
    if (maybeStored) {
      this.maybeStored.set(seq, reason);
      if (this.maybeStored.size > MAX_MAYBE_STORED) this.maybeStored.delete(this.maybeStored.keys().next().value!);
    }
    if (this.due(reason)) this.logger.warn(DROP_MESSAGES[reason], { seq, [reason]: this.counters[reason] });
    this.onLoss?.();
  }

  /** An ack proves these seqs stored: any of them dropped after publishing was not lost. */
  stored(first: number, last: number): void {
    if (this.maybeStored.size === 0) return;
    for (const [seq, reason] of this.maybeStored) {
      if (seq < first || seq > last) continue;
      this.maybeStored.delete(seq);
      this.dropped.remove(seq);
      this.counters[reason] -= 1;
    }
  }

  torn(): void {
    this.counters.torn += 1;
  }

  /** A disk failure: counted (unless only a read), reported, and logged once a minute. */
  failure(message: string, error: unknown, fields: Record<string, unknown> = {}, countAsWrite = true): void {
    if (countAsWrite) this.counters.writeFailures += 1;
    this.lastError = `${message}: ${reasonOf(error)}`;
    if (this.due(message)) this.logger.error(message, { dir: this.dir, ...fields, error: reasonOf(error), writeFailures: this.counters.writeFailures });
    this.onLoss?.();
  }

  report(pending: number, bytes: number): SpoolReport {
    return {
      pending,
      bytes,
      ...this.counters,
      ...(Object.keys(this.refusedBy).length > 0 ? { refusedBy: { ...this.refusedBy } } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError.slice(0, 1000) } : {}),
      droppedRanges: this.dropped.toJSON(),
    };
  }

  /** Saves soon (coalesced); `ackedBelow` is read at write time. */
  scheduleSave(ackedBelow: () => number): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save(ackedBelow());
    }, STATE_SAVE_DELAY_MS);
    this.saveTimer.unref?.();
  }

  save(ackedBelow: number): void {
    const body = JSON.stringify({ ackedBelow, counters: this.counters, refusedBy: this.refusedBy, droppedRanges: this.dropped.toJSON() }) + '\n';
    this.saving = this.saving.then(() => writeFileAtomic(join(this.dir, STATE_FILE), body).catch((error) => this.failure('spool state not saved', error)));
  }

  async close(ackedBelow: number | undefined): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (ackedBelow !== undefined) this.save(ackedBelow);
    await this.saving;
  }

  private due(key: string): boolean {
    const now = this.now();
    if (now - (this.loggedAt.get(key) ?? -Infinity) < LOG_INTERVAL_MS) return false;
    this.loggedAt.set(key, now);
    return true;
  }
}

function readState(dir: string): { ackedBelow: number; counters: Partial<Counters>; refusedBy: RefusedBy; droppedRanges: SeqRange[] } {
  let parsed: { ackedBelow?: unknown; counters?: Record<string, unknown>; refusedBy?: Record<string, unknown>; droppedRanges?: unknown };
  try {
    parsed = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as typeof parsed;
  } catch {
    return { ackedBelow: 0, counters: {}, refusedBy: {}, droppedRanges: [] };
  }
  const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
  const counters: Partial<Counters> = {};
  for (const key of COUNTERS) {
    const value = parsed.counters?.[key];
    if (isCount(value)) counters[key] = value;
  }
  const refusedBy: RefusedBy = {};
  for (const reason of REFUSAL_REASONS) {
    const value = parsed.refusedBy?.[reason];
    if (isCount(value)) refusedBy[reason] = value;
  }
  const ackedBelow = typeof parsed.ackedBelow === 'number' && Number.isSafeInteger(parsed.ackedBelow) && parsed.ackedBelow >= 0 ? parsed.ackedBelow : 0;
  const droppedRanges = Array.isArray(parsed.droppedRanges) ? (parsed.droppedRanges as SeqRange[]).filter((r) => Array.isArray(r) && r.length === 2) : [];
  return { ackedBelow, counters, refusedBy, droppedRanges };
}
