/**
 * What the batcher needs from a sensor source. Sources are pull-based: the batcher asks for what
 * is due, so a push-based kind (MQTT bridge, serial/UDP) buffers internally with its own bound
 * and drains that buffer in `take`. Every sample has a per-source sequence number that starts at
 * 0 when the source starts and never repeats while it runs, so a result can name its samples.
 */
export interface SampleBlock {
  readonly sourceId: string;
  /** Sequence number of the first sample; the rest follow without gaps. */
  readonly firstSeq: number;
  /** Epoch milliseconds, one per sample. */
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
}

/** Counters of a push-fed source; bad input and overflow are counted, never silent. */
export interface SourceStats {
  /** Samples that entered the buffer. */
  readonly accepted: number;
  /** Lines, payloads or reads that could not be turned into a sample. */
  readonly badInput: number;
  /** Samples dropped because more than `maxBuffered` waited between batches. */
  readonly dropped: number;
  readonly buffered: number;
}

export interface Source {
  readonly id: string;
  readonly kind: string;
  /** Nominal rate, for sizing batches; undefined for irregular sources. */
  readonly rateHz: number | undefined;
  start(startedAt: number): void;
  stop(): void;
  /** At most `max` samples due by `now` that were not taken yet; undefined when none are. */
  take(now: number, max: number): SampleBlock | undefined;
  /**
   * Advances past everything due by `now` without producing values (nobody is listening).
   * Returns how many samples were skipped.
   */
  skip(now: number): number;
  /** Push-fed kinds only. */
  stats?(): SourceStats;
}
