/**
 * The bounded buffer behind every push-fed source (sysfs polls, MQTT, serial, UDP): samples are
 * stamped and numbered on arrival and wait here until the batcher takes them. Past `maxBuffered`
 * the oldest are dropped and counted, so a stalled consumer costs bounded memory. Bad input is
 * counted too, and logged at a bounded rate (the first, then every 100th).
 */
import type { Logger } from '../../common/logger.js';
import { sourceErrors } from './errors.js';
import type { SampleBlock, SourceStats } from './source.js';

const LOG_EVERY = 100;

export class SampleBuffer {
  private timestamps: number[] = [];
  private values: number[] = [];
  private nextSeq = 0;
  private accepted = 0;
  private badInput = 0;
  private dropped = 0;
  private running = false;
  private droppedWhenLogged = 0;

  constructor(
    private readonly sourceId: string,
    private readonly kind: string,
    private readonly maxBuffered: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.running = true;
    this.nextSeq = 0;
    this.timestamps = [];
    this.values = [];
  }

  stop(): void {
    this.running = false;
    this.timestamps = [];
    this.values = [];
  }

  push(value: number, at = Date.now()): void {
    if (!this.running) return;
    this.accepted += 1;
    this.timestamps.push(at);
    this.values.push(value);
    if (this.values.length > this.maxBuffered) {
      const excess = this.values.length - this.maxBuffered;
      this.timestamps.splice(0, excess);
      this.values.splice(0, excess);
      this.nextSeq += excess;
      this.dropped += excess;
      if (this.droppedWhenLogged === 0 || this.dropped - this.droppedWhenLogged >= this.maxBuffered) {
        this.droppedWhenLogged = this.dropped;
        const error = sourceErrors.WF_SOURCE_OVERFLOW({ source: this.sourceId, kind: this.kind, count: this.dropped, max: this.maxBuffered });
        this.logger.warn('source overflow', { source: this.sourceId, code: error.code, reason: error.message });
      }
    }
  }

  /** Counts and (rate-limited) logs input that could not be read as a sample. */
  rejected(reason: string): void {
    this.badInput += 1;
    if (this.badInput === 1 || this.badInput % LOG_EVERY === 0) {
      const error = sourceErrors.WF_SOURCE_BAD_INPUT({ source: this.sourceId, kind: this.kind, reason, count: this.badInput });
      this.logger.warn('source input ignored', { source: this.sourceId, code: error.code, reason: error.message });
    }
  }

  take(max: number): SampleBlock | undefined {
    const count = Math.min(max, this.values.length);
    if (count <= 0) return undefined;
    const firstSeq = this.nextSeq;
    const timestamps = Float64Array.from(this.timestamps.splice(0, count));
    const values = Float64Array.from(this.values.splice(0, count));
    this.nextSeq += count;
    return { sourceId: this.sourceId, firstSeq, timestamps, values };
  }

  skip(): number {
    const count = this.values.length;
    this.timestamps = [];
    this.values = [];
    this.nextSeq += count;
    return count;
  }

  stats(): SourceStats {
    return { accepted: this.accepted, badInput: this.badInput, dropped: this.dropped, buffered: this.values.length };
  }
}
