/**
 * What a server's event loop went through during a load: its delay histogram (monitorEventLoopDelay,
 * 10 ms resolution) and every GC pause, with the stalls (a delay past `stallMs`) timed from the
 * start, so a p99 far above queueing can be put on a GC, a job or a slow request instead of guessed.
 */
import { monitorEventLoopDelay, PerformanceObserver, performance, type PerformanceEntry } from 'node:perf_hooks';

export interface LoopReport {
  /** Event-loop delay, ms. */
  readonly delayP50: number;
  readonly delayP99: number;
  readonly delayMax: number;
  readonly gcCount: number;
  readonly gcTotalMs: number;
  readonly gcMaxMs: number;
  /** Per GC kind (minor, major, incremental, weakcb): count and total ms. */
  readonly gcByKind: Record<string, { count: number; ms: number }>;
  /** Ticks later than stallMs: when (ms from start) and by how much. */
  readonly stalls: ReadonlyArray<{ at: number; ms: number }>;
}

const GC_KINDS: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };

export function watchLoop(stallMs = 30): { stop(): LoopReport } {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const started = performance.now();
  const gcs: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  const stalls: Array<{ at: number; ms: number }> = [];
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    if (now - last - 5 > stallMs) stalls.push({ at: Math.round(last - started), ms: Math.round(now - last - 5) });
    last = now;
  }, 5);
  return {
    stop() {
      clearInterval(tick);
      histogram.disable();
      observer.disconnect();
      const ms = (ns: number) => ns / 1e6;
      const byKind: Record<string, { count: number; ms: number }> = {};
      for (const gc of gcs) {
        const kind = GC_KINDS[(gc as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
        const entry = (byKind[kind] ??= { count: 0, ms: 0 });
        entry.count += 1;
        entry.ms += gc.duration;
      }
      return {
        delayP50: ms(histogram.percentile(50)),
        delayP99: ms(histogram.percentile(99)),
        delayMax: ms(histogram.max),
        gcCount: gcs.length,
        gcTotalMs: gcs.reduce((sum, gc) => sum + gc.duration, 0),
        gcMaxMs: gcs.reduce((max, gc) => Math.max(max, gc.duration), 0),
        gcByKind: byKind,
        stalls,
      };
    },
  };
}

/** One line for a figure's note. */
export function describeLoop(report: LoopReport): string {
  return `event-loop delay p99 ${report.delayP99.toFixed(0)} ms, max ${report.delayMax.toFixed(0)} ms; GC ${report.gcCount} pauses, ${report.gcTotalMs.toFixed(0)} ms in all, longest ${report.gcMaxMs.toFixed(0)} ms`;
}

/**
 * A CPU profile of this process over `run` when WF_BENCH_PROFILE_DIR is set (written there as
 * NAME.cpuprofile), else just `run`: a profile of the measured span alone, without the set-up.
 */
export async function profiled<T>(name: string, run: () => Promise<T>): Promise<T> {
  const dir = process.env.WF_BENCH_PROFILE_DIR;
  if (!dir) return run();
  const { Session } = await import('node:inspector/promises');
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  }
}
