/**
 * Cuts each source's samples into batches and hands every batch to the modules bound to that
 * source. A batch is cut every `intervalMs`, or sooner when the source fills `maxSamples`. Each
 * consumer processes one batch at a time, or up to its `concurrency` when batches are waiting
 * (a backlog drains faster pipelined); while it is busy at most `maxQueued` batches wait and
 * the oldest waiting one is dropped past that, counted, so a slow module costs bounded memory and
 * its results stay fresh. A stalled event loop (suspend, GC pause) does not make a burst either:
 * past `maxCatchUpBatches` per tick the backlog is skipped and counted.
 */
import type { Logger } from '../common/logger.js';
import { silentLogger } from '../common/logger.js';
import type { SampleBlock, Source } from './sources/source.js';

export interface BatchConsumer {
  readonly id: string;
  /** Called with one batch at a time unless `concurrency` says otherwise; the batch's arrays belong to the consumer. */
  process(batch: SampleBlock): Promise<void>;
  /**
   * Batches the consumer accepts before the first has settled (1 if absent). A consumer that
   * sets it must finish them in the order it was given them.
   */
  readonly concurrency?: number;
}

export interface ConsumerStats {
  readonly delivered: number;
  readonly queued: number;
  /** Batches dropped because the consumer was still busy with earlier ones. */
  readonly droppedBatches: number;
  readonly droppedSamples: number;
}

export interface Subscription {
  readonly consumerId: string;
  stats(): ConsumerStats;
  /** Stops delivery and discards what waits; a batch in progress finishes. */
  cancel(): void;
}

export interface BatcherOptions {
  readonly intervalMs: number;
  readonly maxSamples: number;
  /** Batches that may wait per busy consumer. */
  readonly maxQueued?: number;
  readonly maxCatchUpBatches?: number;
  readonly now?: () => number;
  readonly logger?: Logger;
}

export const DEFAULT_MAX_QUEUED = 4;
export const DEFAULT_MAX_CATCH_UP_BATCHES = 8;
/** Below this a timer costs more than it gives. */
const MIN_TICK_MS = 10;

class ConsumerQueue implements Subscription {
  private readonly waiting: SampleBlock[] = [];
  private busy = false;
  private cancelled = false;
  private delivered = 0;
  private droppedBatches = 0;
  private droppedSamples = 0;

  constructor(
    private readonly consumer: BatchConsumer,
    private readonly maxQueued: number,
    private readonly logger: Logger,
    private readonly onCancel: (queue: ConsumerQueue) => void,
  ) {}

  get consumerId(): string {
    return this.consumer.id;
  }

  push(batch: SampleBlock): void {
    if (this.cancelled) return;
    if (this.busy && this.waiting.length >= this.maxQueued) {
      const oldest = this.waiting.shift()!;
      this.droppedBatches += 1;
      this.droppedSamples += oldest.values.length;
    }
    this.waiting.push(batch);
    if (!this.busy) void this.drain();
  }

  private async drain(): Promise<void> {
    this.busy = true;
    const limit = Math.max(1, Math.floor(this.consumer.concurrency ?? 1));
    const running: Promise<void>[] = [];
    try {
      for (;;) {
        while (running.length < limit && this.waiting.length > 0 && !this.cancelled) running.push(this.hand(this.waiting.shift()!));
        const oldest = running.shift();
        if (!oldest) break;
        await oldest;
      }
    } finally {
      this.busy = false;
    }
  }

  private async hand(batch: SampleBlock): Promise<void> {
    try {
      await this.consumer.process(batch);
      this.delivered += 1;
    } catch (error) {
      // Consumers own their faults; one escaping here is a bug, but must not stop the queue.
      this.logger.error('batch consumer threw', { consumer: this.consumer.id, error });
    }
  }

  stats(): ConsumerStats {
    return { delivered: this.delivered, queued: this.waiting.length, droppedBatches: this.droppedBatches, droppedSamples: this.droppedSamples };
  }

  cancel(): void {
    this.cancelled = true;
    this.waiting.length = 0;
    this.onCancel(this);
  }
}

export interface BatcherStats {
  readonly batches: number;
  /** Samples skipped because no module listened or the backlog exceeded the catch-up bound. */
  readonly skippedSamples: number;
}

export class SourceBatcher {
  readonly source: Source;
  private readonly consumers = new Set<ConsumerQueue>();
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly maxQueued: number;
  private readonly maxCatchUp: number;
  private timer: NodeJS.Timeout | undefined;
  private batches = 0;
  private skippedSamples = 0;

  constructor(
    source: Source,
    private readonly options: BatcherOptions,
  ) {
    this.source = source;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.maxCatchUp = options.maxCatchUpBatches ?? DEFAULT_MAX_CATCH_UP_BATCHES;
  }

  /** How often the timer fires: the batch interval, or sooner if the source fills a batch first. */
  get tickMs(): number {
    const fillMs = this.source.rateHz ? (this.options.maxSamples * 1000) / this.source.rateHz : Infinity;
    return Math.max(MIN_TICK_MS, Math.floor(Math.min(this.options.intervalMs, fillMs)));
  }

  /** Starts the source at `startedAt` and, unless `manual`, a timer calling tick(). */
  start(startedAt = this.now(), manual = false): void {
    this.source.start(startedAt);
    if (!manual && !this.timer) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref?.();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const consumer of [...this.consumers]) consumer.cancel();
    this.source.stop();
  }

  subscribe(consumer: BatchConsumer): Subscription {
    const queue = new ConsumerQueue(consumer, this.maxQueued, this.logger, (q) => this.consumers.delete(q));
    this.consumers.add(queue);
    return queue;
  }

  /** Cuts whatever is due by `now` into batches and delivers them. */
  tick(now = this.now()): void {
    if (this.consumers.size === 0) {
      this.skippedSamples += this.source.skip(now);
      return;
    }
    for (let n = 0; n < this.maxCatchUp; n++) {
      const block = this.source.take(now, this.options.maxSamples);
      if (!block) return;
      this.batches += 1;
      this.deliver(block);
    }
    const skipped = this.source.skip(now);
    if (skipped > 0) {
      this.skippedSamples += skipped;
      this.logger.warn('source backlog skipped', { source: this.source.id, skipped });
    }
  }

  private deliver(block: SampleBlock): void {
    let first = true;
    for (const consumer of this.consumers) {
      // Consumers may transfer their arrays to a worker, so each gets its own copy but the first.
      consumer.push(first ? block : { ...block, timestamps: block.timestamps.slice(), values: block.values.slice() });
      first = false;
    }
  }

  stats(): BatcherStats {
    return { batches: this.batches, skippedSamples: this.skippedSamples };
  }
}
