/**
 * Sorted, merged ranges [first, last] of sequence numbers: how the spool remembers which seqs it
 * dropped. Bounded: past `maxRanges` the two oldest ranges merge, so old history gets coarser
 * while the counters stay exact.
 */
export type SeqRange = [number, number];

export class SeqRanges {
  private ranges: SeqRange[] = [];

  constructor(
    private readonly maxRanges: number,
    initial: readonly SeqRange[] = [],
  ) {
    this.ranges = initial.filter(([first, last]) => Number.isSafeInteger(first) && Number.isSafeInteger(last) && first <= last).map(([a, b]) => [a, b]);
    this.ranges.sort((a, b) => a[0] - b[0]);
    this.mergeAdjacent();
  }

  add(seq: number): void {
    const last = this.ranges[this.ranges.length - 1];
    // Drops come oldest-first, so the common case extends or follows the newest range.
    if (last && seq === last[1] + 1) last[1] = seq;
    else if (!last || seq > last[1]) this.ranges.push([seq, seq]);
    else if (!this.has(seq)) {
      this.ranges.push([seq, seq]);
      this.ranges.sort((a, b) => a[0] - b[0]);
      this.mergeAdjacent();
    }
    while (this.ranges.length > this.maxRanges) {
      const [a, b] = this.ranges.splice(0, 2) as [SeqRange, SeqRange];
      this.ranges.unshift([a[0], b[1]]);
    }
  }

  /** Takes a seq back out (it turned out to be stored after all). */
  remove(seq: number): boolean {
    const index = this.ranges.findIndex(([first, last]) => seq >= first && seq <= last);
    if (index < 0) return false;
    const [first, last] = this.ranges[index]!;
    const replacement: SeqRange[] = [];
    if (first < seq) replacement.push([first, seq - 1]);
    if (seq < last) replacement.push([seq + 1, last]);
    this.ranges.splice(index, 1, ...replacement);
    return true;
  }

  has(seq: number): boolean {
    return this.ranges.some(([first, last]) => seq >= first && seq <= last);
  }

  toJSON(): SeqRange[] {
    return this.ranges.map(([first, last]) => [first, last]);
  }

  private mergeAdjacent(): void {
    const merged: SeqRange[] = [];
    for (const range of this.ranges) {
      const previous = merged[merged.length - 1];
      if (previous && range[0] <= previous[1] + 1) previous[1] = Math.max(previous[1], range[1]);
      else merged.push([range[0], range[1]]);
    }
    this.ranges = merged;
  }
}
