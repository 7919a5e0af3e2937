/**
 * Where each byte of a rewritten binary's code came from: the rewriter copies the original
 * function bodies in runs between its insertions, and this map records every run, so a trap's
 * offset in the metered binary (what V8 reports) can be turned back into the offset in the
 * binary the author built (what the author's source map describes).
 */

/** One copied run: `length` bytes at `from` in the original now sit at `to` (offsets relative to a base the owner knows). */
export interface CopiedRun {
  readonly to: number;
  readonly from: number;
  readonly length: number;
}

export class CodeOffsetMap {
  private readonly to: Float64Array;
  private readonly from: Float64Array;
  private readonly length: Float64Array;

  /** `runs` with absolute offsets, in increasing `to` order (the rewriter's writing order). */
  constructor(runs: readonly CopiedRun[]) {
    // One loop, not Float64Array.from with a mapping function three times: that generic path was
    // 1% of an agent's module apply (the map is built at every rewrite, read only after a fault).
    this.to = new Float64Array(runs.length);
    this.from = new Float64Array(runs.length);
    this.length = new Float64Array(runs.length);
    for (let i = 0; i < runs.length; i++) {
      const run = runs[i]!;
      this.to[i] = run.to;
      this.from[i] = run.from;
      this.length[i] = run.length;
    }
  }

  /**
   * The original offset of the byte at `offset` in the rewritten binary. A byte the rewriter
   * inserted (a checkpoint) maps to the original instruction it was inserted before; undefined
   * before the first run (outside the code section).
   */
  toOriginal(offset: number): number | undefined {
    let low = 0;
    let high = this.to.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (this.to[mid]! <= offset) {
        found = mid;
        low = mid + 1;
      } else high = mid - 1;
    }
    if (found < 0) return undefined;
    const into = offset - this.to[found]!;
    return this.from[found]! + Math.min(into, this.length[found]!);
  }
}

/** Shifts runs recorded relative to one base so they become relative to an outer one. */
export const shiftRuns = (runs: readonly CopiedRun[], by: number): CopiedRun[] => runs.map((r) => ({ ...r, to: r.to + by }));
