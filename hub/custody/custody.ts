/**
 * The custody store: receive (judge, hold durably, acknowledge), the bounds, upstream acks, and
 * what HubStatus reports. Files: log.ts (segments and fdatasync), settled.ts (state.json), held.ts
 * (the in-memory index), forwarder.ts (upstream), intake.ts (the API's rules).
 *
 * When full, custody takes nothing more and does not acknowledge what it did not take: the device
 * keeps those batches in its own spool and sends them again, so the site holds the hub's bytes
 * plus every agent's spool before anything is lost, and what is lost then is lost at the agent,
 * counted there under its own `droppedFull` (device-agent/spool/README.md). Dropping the hub's
 * oldest instead would lose data while agents' spools sat empty.
 */
import { mkdirSync } from 'node:fs';
import { reasonOf } from '../../common/errors.js';
import { isoTime } from '../../common/iso-time.js';
import { removeStaleTemps } from '../../device-agent/state/atomic-file.js';
import type { Logger } from '../../common/logger.js';
import { MAX_ACK_RANGES, PAYLOAD_CAPS, PROTOCOL_VERSION, seqRanges, type BatchRefusal, type ResultsAck } from '../../protocol/index.js';
import { FORWARD_DEFAULTS, Forwarder, type ForwardCounters, type Send } from './forwarder.js';
import { HeldIndex, type HeldEntry } from './held.js';
import type { CustodyCounters, ResultCustody, ResultCustodyOptions } from './index.js';
import { judgeResults } from './intake.js';
import { CustodyLog, encodeCustodyRecord } from './log.js';
import { CustodyState } from './settled.js';

/** Keys of `lost()`: `refused:<reason>` per negative-ack reason [WF-P-NACK-2]. */
export const LOSS_REASONS = {
  droppedAge: 'held longer than maxAgeMs',
  unreadable: 'its record failed its checksum when read back (the medium)',
  'refused:*': 'refused upstream by the fleet API with that reason',
} as const;

/** Must hold the largest SpooledResults (every batch of it) at once. */
export const MIN_MAX_BYTES = PAYLOAD_CAPS.spooled;
const LOG_INTERVAL_MS = 60_000;
const MAX_MAYBE_STORED = 100_000;
/** Once full, custody takes payloads again when its disk use is below this share of maxBytes. */
const FULL_UNTIL = 0.9;

export class ResultCustodyStore implements ResultCustody {
  private readonly log: CustodyLog;
  private readonly state: CustodyState;
  private readonly held = new HeldIndex();
  private readonly forwarder: Forwarder;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly counts: Omit<CustodyCounters, keyof ForwardCounters> = {
    received: 0, malformed: 0, stored: 0, duplicates: 0, refusedAtIntake: 0, deferredFull: 0, skippedFull: 0, writeFailures: 0, tornTails: 0, forwarded: 0,
  };
  private readonly forwardCounts: ForwardCounters = { publishes: 0, batchesSent: 0, resends: 0, publishFailures: 0 };
  private readonly ageTimer: NodeJS.Timeout;
  private readonly loggedAt = new Map<string, number>();
  private full = false;
  /** Dropped for age while on their way upstream: an ack may yet prove them stored (then not lost). */
  private readonly maybeStored = new Map<string, Set<number>>();
  private maybeStoredCount = 0;
  private closed = false;

  static async open(options: ResultCustodyOptions): Promise<ResultCustodyStore> {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < MIN_MAX_BYTES) {
      throw new RangeError(`custody maxBytes must be an integer of at least ${MIN_MAX_BYTES} (the largest SpooledResults); got ${options.maxBytes}`);
    }
    if (!Number.isSafeInteger(options.maxAgeMs) || options.maxAgeMs <= 0) throw new RangeError(`custody maxAgeMs must be a positive integer; got ${options.maxAgeMs}`);
    mkdirSync(options.dir, { recursive: true });
    // A crash in the middle of saving state.json leaves its temporary file behind.
    removeStaleTemps(options.dir);
    const store = new ResultCustodyStore(options);
    store.recover();
    return store;
  }

  private constructor(private readonly options: ResultCustodyOptions) {
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    // Several segments per bound, so space comes back in modest steps as batches leave.
    const segmentBytes = Math.max(64 * 1024, Math.min(8 * 1024 * 1024, Math.floor(options.maxBytes / 16)));
    this.log = new CustodyLog(options.dir, segmentBytes, this.logger);
    this.state = new CustodyState(options.dir, this.logger);
    this.forwarder = new Forwarder(this.held, (entry) => this.readBatch(entry), { ...FORWARD_DEFAULTS, ...options.forward }, this.forwardCounts, this.logger, this.now);
    this.ageTimer = setInterval(() => this.expire(this.now()), Math.max(1000, Math.min(60_000, Math.floor(options.maxAgeMs / 10))));
    this.ageTimer.unref();
  }

  async receive(deviceId: string, channel: 'results' | 'spooled', payload: Buffer): Promise<ResultsAck | undefined> {
    if (this.closed) return undefined;
    this.counts.received += 1;
    if (this.stillFull()) {
      // Not even read: agents resend their whole window every ack timeout, and judging megabytes
      // that cannot be taken would cost a core across a big site. Their devices keep them.
      this.counts.skippedFull += 1;
      return undefined;
    }
    const intake = judgeResults(deviceId, channel, payload);
    if (!intake.ok) {
      this.counts.malformed += 1;
      this.warnSometimes('malformed', 'result payload dropped: malformed', { deviceId, channel, code: intake.code, reason: intake.reason, malformed: this.counts.malformed });
      return undefined;
    }
    const refused = intake.refused;
    if (refused.length > 0) {
      this.counts.refusedAtIntake += refused.length;
      this.warnSometimes('refused', 'result batches refused at the hub (the API would refuse them)', { deviceId, first: refused[0], refused: refused.length });
    }
    const now = this.now();
    this.expire(now);
    const acked: number[] = [];
    const waits: { seq: number; durable: Promise<boolean> }[] = [];
    const records: Buffer[] = [];
    const seqs: number[] = [];
    const seen = new Set<number>();
    let bytes = this.log.bytes;
    let deferred = 0;
    for (const batch of intake.batches) {
      if (seen.has(batch.seq)) continue;
      seen.add(batch.seq);
      const holding = this.held.get(deviceId, batch.seq);
      if (holding || this.state.isSettled(deviceId, batch.seq)) {
        this.counts.duplicates += 1;
        if (holding?.whenDurable) waits.push({ seq: batch.seq, durable: holding.whenDurable });
        else acked.push(batch.seq);
        continue;
      }
      // Once one batch does not fit, neither do the later ones: the device resends them in order.
      const record = deferred > 0 ? undefined : encodeCustodyRecord({ deviceId, seq: batch.seq, receivedAt: now }, batch.bytes);
      if (!record || bytes + record.byteLength > this.options.maxBytes) {
        deferred += 1;
        continue;
      }
      bytes += record.byteLength;
      records.push(record);
      seqs.push(batch.seq);
    }
    this.noteFull(deferred, deviceId);
    if (records.length > 0) acked.push(...(await this.hold(deviceId, seqs, records, now)));
    for (const wait of waits) if (await wait.durable) acked.push(wait.seq);
    return this.ackFor(deviceId, acked, refused);
  }

  startForwarding(send: Send): void {
    if (this.closed) return;
    this.forwarder.start(send);
  }

  stopForwarding(): void {
    this.forwarder.stop();
  }

  upstreamAck(deviceId: string, ack: ResultsAck): void {
    if (ack.deviceId !== deviceId) {
      this.warnSometimes('ack-mismatch', 'upstream ack names another device; ignored', { deviceId, ackDeviceId: ack.deviceId });
      return;
    }
    for (const [first, last] of ack.stored) {
      if (first > last) continue;
      for (const entry of this.held.range(deviceId, first, last)) {
        this.release(entry);
        this.counts.forwarded += 1;
      }
      this.state.settle(deviceId, first, last);
      this.storedAfterAll(deviceId, first, last);
    }
    for (const refusal of ack.refused ?? []) {
      if (refusal.seq === null) continue;
      const entry = this.held.get(deviceId, refusal.seq);
      if (!entry) continue;
      this.release(entry);
      this.state.settle(deviceId, refusal.seq);
      this.state.lose(`refused:${refusal.reason}`);
      this.warnSometimes(`refused:${refusal.reason}`, 'held batch refused upstream; dropped and counted lost', { deviceId, seq: refusal.seq, reason: refusal.reason, message: refusal.message });
    }
    this.forwarder.pump();
  }

  backlog(): { batches: number; bytes: number; oldestAt: string | null } {
    const oldest = this.held.oldest();
    return { batches: this.held.count, bytes: this.held.bytes, oldestAt: oldest ? isoTime(oldest.receivedAt) : null };
  }

  lost(): Record<string, number> {
    return this.state.lost();
  }

  counters(): CustodyCounters {
    return { ...this.counts, ...this.forwardCounts };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.forwarder.stop();
    clearInterval(this.ageTimer);
    await this.log.close();
    await this.state.close();
  }

  // --- holding ------------------------------------------------------------------------------

  /** Appends the records, waits for their fdatasync; returns the seqs now durable. */
  private async hold(deviceId: string, seqs: number[], records: Buffer[], receivedAt: number): Promise<number[]> {
    let places;
    try {
      places = this.log.append(records);
    } catch (error) {
      this.counts.writeFailures += 1;
      this.errorSometimes('write', 'custody write failed; those batches are not acknowledged (their device sends them again)', { deviceId, batches: records.length, error: reasonOf(error) });
      return [];
    }
    const whenDurable = this.log.durable().then(
      () => true,
      () => false,
    );
    const entries: HeldEntry[] = places.map((place, i) => ({
      deviceId, seq: seqs[i]!, receivedAt, segment: place.segment, offset: place.offset, size: place.size, durable: false, whenDurable, inflight: false, sentAt: 0, done: false,
    }));
    for (const entry of entries) this.held.add(entry);
    const durable = await whenDurable;
    for (const entry of entries) entry.whenDurable = undefined;
    if (!durable) {
      this.counts.writeFailures += 1;
      for (const entry of entries) if (!entry.done) this.release(entry);
      return [];
    }
    for (const entry of entries) entry.durable = true;
    this.counts.stored += entries.length;
    this.forwarder.pump();
    return seqs;
  }

  private ackFor(deviceId: string, acked: number[], refused: BatchRefusal[]): ResultsAck | undefined {
    if (acked.length === 0 && refused.length === 0) return undefined;
    const ack: ResultsAck = { v: PROTOCOL_VERSION, deviceId, stored: seqRanges(acked).slice(0, MAX_ACK_RANGES) };
    // Refusals beyond what fits are answered when their device sends them again.
    let fitting = Math.min(refused.length, 64);
    while (fitting > 0 && Buffer.byteLength(JSON.stringify({ ...ack, refused: refused.slice(0, fitting) })) > PAYLOAD_CAPS.ack) fitting -= 1;
    if (fitting > 0) ack.refused = refused.slice(0, fitting);
    return ack.stored.length > 0 || ack.refused ? ack : undefined;
  }

  private noteFull(deferred: number, deviceId: string): void {
    if (deferred === 0) return;
    this.counts.deferredFull += deferred;
    if (!this.full) {
      this.full = true;
      this.logger.warn('custody full (maxBytes): new batches are not acknowledged; devices keep them in their spools', { deviceId, bytes: this.log.bytes, maxBytes: this.options.maxBytes });
    }
  }

  /** Full until a tenth of maxBytes is free again, so payloads are not read for every few bytes freed. */
  private stillFull(): boolean {
    if (!this.full) return false;
    this.expire(this.now());
    if (this.log.bytes >= this.options.maxBytes * FULL_UNTIL) return true;
    this.full = false;
    this.logger.info('custody has room again', { bytes: this.log.bytes, maxBytes: this.options.maxBytes });
    return false;
  }

  // --- leaving custody ------------------------------------------------------------------------

  private release(entry: HeldEntry): void {
    if (entry.done) return;
    this.held.remove(entry);
    this.log.release(entry.segment);
  }

  /** Drops and counts what is held longer than maxAgeMs, as the agents' spool does. */
  private expire(now: number): void {
    const expired = this.held.expired(now - this.options.maxAgeMs);
    for (const entry of expired) {
      if (entry.inflight && this.maybeStoredCount < MAX_MAYBE_STORED) {
        let seqs = this.maybeStored.get(entry.deviceId);
        if (!seqs) this.maybeStored.set(entry.deviceId, (seqs = new Set()));
        seqs.add(entry.seq);
        this.maybeStoredCount += 1;
      }
      this.lose(entry, 'droppedAge');
    }
    if (expired.length > 0) {
      this.warnSometimes('droppedAge', 'custody batches older than maxAgeMs dropped and counted lost', { batches: expired.length, droppedAge: this.state.lost().droppedAge });
    }
  }

  /** Seqs dropped for age while in flight that an upstream ack now proves stored: not lost after all. */
  private storedAfterAll(deviceId: string, first: number, last: number): void {
    const seqs = this.maybeStored.get(deviceId);
    if (!seqs) return;
    for (const seq of seqs) {
      if (seq < first || seq > last) continue;
      seqs.delete(seq);
      this.maybeStoredCount -= 1;
      this.state.unlose('droppedAge');
    }
    if (seqs.size === 0) this.maybeStored.delete(deviceId);
  }

  private lose(entry: HeldEntry, reason: keyof typeof LOSS_REASONS): void {
    this.release(entry);
    this.state.settle(entry.deviceId, entry.seq);
    this.state.lose(reason);
  }

  private readBatch(entry: HeldEntry): Buffer | undefined {
    try {
      return this.log.read(entry);
    } catch (error) {
      this.lose(entry, 'unreadable');
      this.errorSometimes('unreadable', 'custody record unreadable; counted lost', { deviceId: entry.deviceId, seq: entry.seq, error: reasonOf(error) });
      return undefined;
    }
  }

  // --- opening --------------------------------------------------------------------------------

  private recover(): void {
    const { records, torn } = this.log.recover();
    this.counts.tornTails = torn;
    // Stable: records of one segment keep their order, segments theirs.
    records.sort((a, b) => a.receivedAt - b.receivedAt);
    for (const record of records) {
      if (this.state.isSettled(record.deviceId, record.seq) || this.held.get(record.deviceId, record.seq)) continue;
      record.segment.live += 1;
      const { deviceId, seq, receivedAt, segment, offset, size } = record;
      this.held.add({ deviceId, seq, receivedAt, segment, offset, size, durable: true, whenDurable: undefined, inflight: false, sentAt: 0, done: false });
    }
    this.log.dropEmpty();
    this.expire(this.now());
    if (this.held.count > 0) this.logger.info('custody recovered', { batches: this.held.count, bytes: this.held.bytes, segments: this.log.segmentCount });
  }

  // --- logging ------------------------------------------------------------------------------

  private warnSometimes(key: string, message: string, fields: Record<string, unknown>): void {
    if (this.due(key)) this.logger.warn(message, fields);
  }

  private errorSometimes(key: string, message: string, fields: Record<string, unknown>): void {
    if (this.due(key)) this.logger.error(message, fields);
  }

  private due(key: string): boolean {
    const now = Date.now();
    if (now - (this.loggedAt.get(key) ?? -Infinity) < LOG_INTERVAL_MS) return false;
    this.loggedAt.set(key, now);
    return true;
  }
}
