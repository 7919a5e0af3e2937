/**
 * What each soak process reports about itself once a minute: resident memory, the parts of it
 * Node can name (JS heap used and reserved, memory outside the heap held by JS objects, Wasm
 * linear memories included, and of that the ArrayBuffers: Buffers), and its event-loop delay over the minute (perf_hooks' histogram, read and reset at each sample), so a
 * figure covers exactly the interval it is printed for. Measured inside the process because the
 * event-loop delay cannot be seen from outside.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

export interface ProcessSample {
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  /** V8 heap reserved (used plus free pages not yet returned). */
  readonly heapTotalMiB: number;
  /** Of heapTotal, the young generation's reservation, which V8 grows with the allocation rate. */
  readonly newSpaceMiB: number;
  /** Memory of C++ objects bound to JS objects: Buffers, Wasm linear memories (Node 20 counts them here, not in arrayBuffers), etc. */
  readonly externalMiB: number;
  /** Of `external`, ArrayBuffers and SharedArrayBuffers: Buffers and typed arrays. */
  readonly arrayBuffersMiB: number;
  readonly loopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

const MIB = 1024 * 1024;
const RESOLUTION_MS = 10;

/** Starts the histogram now; each call of the returned function gives the interval since the last. */
export function processSampler(): () => ProcessSample {
  // The histogram records each whole interval of its timer, resolution included; that is taken
  // off, so an idle loop reads 0. A stall shorter than 10 ms is no soak finding.
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  // Only with --expose-gc (the soak's default): memory is then read after a full GC, i.e. what is
  // live, not where V8's collection cycle happens to be; that cycle can outlast a whole soak.
  const gc = (globalThis as { gc?: () => void }).gc;
  return () => {
    const ms = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 10) / 10);
    const loopDelayMs = { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) };
    gc?.();
    const memory = process.memoryUsage();
    const sample: ProcessSample = {
      rssMiB: memory.rss / MIB,
      heapUsedMiB: memory.heapUsed / MIB,
      heapTotalMiB: memory.heapTotal / MIB,
      newSpaceMiB: getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.space_size / MIB,
      externalMiB: memory.external / MIB,
      arrayBuffersMiB: memory.arrayBuffers / MIB,
      loopDelayMs,
    };
    if (!gc) histogram.reset();
    // The GC's own pause is recorded when the histogram's timer next fires; this later timer
    // then clears it, so the next minute's delays are the process's, not the sampler's.
    else setTimeout(() => histogram.reset(), 2 * RESOLUTION_MS).unref();
    return sample;
  };
}

/** JSON lines on stdout are the children's only channel to the bench process. */
export const say = (line: object): void => {
  process.stdout.write(JSON.stringify(line) + '\n');
};
