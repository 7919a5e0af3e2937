/**
 * The batches in custody, in memory (their bytes stay on disk): per device in seq order, for
 * lookups, acks and sending; and all together in order of arrival, for the age bound, the oldest
 * batch and oldest-first forwarding. Settled entries are marked done and swept out in bulk, so an
 * ack of a long run costs no array shuffling per batch.
 */
import type { LogPlace } from './log.js';

/** Where its record sits is inline (not a nested object): there may be millions of these. */
export interface HeldEntry extends LogPlace {
  readonly deviceId: string;
  readonly seq: number;
  readonly receivedAt: number;
  /** Until its fdatasync completed: neither acknowledged to the device nor forwarded. */
  durable: boolean;
  /** Resolves true once durable, false if the write failed; shared by duplicates arriving meanwhile. */
  whenDurable: Promise<boolean> | undefined;
  inflight: boolean;
  sentAt: number;
  done: boolean;
}

class Queue {
  entries: HeldEntry[] = [];
  head = 0;

  sweep(): void {
    while (this.head < this.entries.length && this.entries[this.head]!.done) this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }
}

class DeviceQueue extends Queue {
  /** First index holding `seq` or above. */
  indexOf(seq: number): number {
    let low = this.head;
    let high = this.entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.entries[mid]!.seq < seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  insert(entry: HeldEntry): void {
    const last = this.entries[this.entries.length - 1];
    if (!last || last.seq < entry.seq) this.entries.push(entry);
    else this.entries.splice(this.indexOf(entry.seq), 0, entry);
  }
}

export class HeldIndex {
  private readonly devices = new Map<string, DeviceQueue>();
  private readonly arrivals = new Queue();
  readonly inflight = new Set<HeldEntry>();
  private heldCount = 0;
  private heldBytes = 0;

  get count(): number {
    return this.heldCount;
  }

  /** Record bytes of what is held (dead records in partly emptied segments not included). */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Adds an entry; entries must come in order of arrival (recovery sorts them first). */
  add(entry: HeldEntry): void {
    let queue = this.devices.get(entry.deviceId);
    if (!queue) this.devices.set(entry.deviceId, (queue = new DeviceQueue()));
    queue.insert(entry);
    this.arrivals.entries.push(entry);
    this.heldCount += 1;
    this.heldBytes += entry.size;
  }

  get(deviceId: string, seq: number): HeldEntry | undefined {
    const queue = this.devices.get(deviceId);
    if (!queue) return undefined;
    for (let i = queue.indexOf(seq); i < queue.entries.length; i++) {
      const entry = queue.entries[i]!;
      if (entry.seq !== seq) return undefined;
      if (!entry.done) return entry;
    }
    return undefined;
  }

  /** The device's held entries with seqs in [first, last]. */
  range(deviceId: string, first: number, last: number): HeldEntry[] {
    const queue = this.devices.get(deviceId);
    if (!queue) return [];
    const out: HeldEntry[] = [];
    for (let i = queue.indexOf(first); i < queue.entries.length && queue.entries[i]!.seq <= last; i++) {
      if (!queue.entries[i]!.done) out.push(queue.entries[i]!);
    }
    return out;
  }

  /** Takes an entry out of custody (the caller releases its disk record). */
  remove(entry: HeldEntry): void {
    if (entry.done) return;
    entry.done = true;
    this.inflight.delete(entry);
    entry.inflight = false;
    this.heldCount -= 1;
    this.heldBytes -= entry.size;
    const queue = this.devices.get(entry.deviceId);
    if (queue) {
      queue.sweep();
      if (queue.head >= queue.entries.length) this.devices.delete(entry.deviceId);
    }
    this.arrivals.sweep();
  }

  /** The entry held longest. */
  oldest(): HeldEntry | undefined {
    const { entries, head } = this.arrivals;
    for (let i = head; i < entries.length; i++) if (!entries[i]!.done) return entries[i];
    return undefined;
  }

  /** Durable entries received before `cutoff`, in order of arrival. */
  expired(cutoff: number): HeldEntry[] {
    const out: HeldEntry[] = [];
    const { entries, head } = this.arrivals;
    for (let i = head; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.receivedAt >= cutoff) break;
      if (!entry.done && entry.durable) out.push(entry);
    }
    return out;
  }

  /**
   * What to send next: the device of the oldest durable entry not in flight, and that device's
   * entries not in flight in seq order, at most `maxCount` and (after the first) `maxBytes` of records.
   */
  nextToSend(maxCount: number, maxBytes: number): HeldEntry[] {
    const { entries, head } = this.arrivals;
    let first: HeldEntry | undefined;
    for (let i = head; i < entries.length && !first; i++) {
      const entry = entries[i]!;
      if (!entry.done && !entry.inflight && entry.durable) first = entry;
    }
    if (!first) return [];
    const queue = this.devices.get(first.deviceId)!;
    const out: HeldEntry[] = [];
    let bytes = 0;
    for (let i = queue.head; i < queue.entries.length && out.length < maxCount; i++) {
      const entry = queue.entries[i]!;
      if (entry.done || entry.inflight || !entry.durable) continue;
      if (out.length > 0 && bytes + entry.size > maxBytes) break;
      bytes += entry.size;
      out.push(entry);
    }
    return out;
  }

  markSent(entry: HeldEntry, at: number): void {
    entry.inflight = true;
    entry.sentAt = at;
    this.inflight.add(entry);
  }

  markUnsent(entry: HeldEntry): void {
    entry.inflight = false;
    entry.sentAt = 0;
    this.inflight.delete(entry);
  }

  /** Everything in flight goes back to unsent (the uplink dropped). */
  rewind(): void {
    for (const entry of this.inflight) {
      entry.inflight = false;
      entry.sentAt = 0;
    }
    this.inflight.clear();
  }
}
