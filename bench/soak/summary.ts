/**
 * The soak's samples turned into figures and verdicts. Every series is fitted twice: over the
 * whole run (minutes 1..N) and over the steady state (the minutes after a warm-up window fixed
 * before the run, WF_SOAK_WARMUP_MINUTES, a third of it by default). A process does some things
 * once (the JIT warms up, V8 sizes its heap spaces to the allocation rate and keeps them); a step
 * like that early in a short run tilts a straight line fitted through all of it, while a leak
 * keeps growing after it. Both fits are reported side by side, so a warm-up step is seen as one
 * and growth in the steady state is not hidden by it.
 */
import { figure, type BenchFigure } from '../figure.js';
import { soakSection, type MinuteRow, type SoakVerdicts } from './report.js';
import { trendOf, verdictOf, type Trend } from './trend.js';

interface Options {
  readonly agents: number;
  readonly agentsPerProcess: number;
  readonly minutes: number;
  readonly sampleMs: number;
  readonly gcBeforeSample: boolean;
  readonly warmupMinutes: number;
}

type AgentsSample = MinuteRow['agents'][number];

interface Fits {
  readonly whole: Trend;
  readonly steady: Trend;
}

const signed = (v: number, digits = 3): string => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

export function summarise(options: Options, processes: number, rows: readonly MinuteRow[]): { figures: BenchFigure[]; section: string } {
  const measured = rows.filter((row) => row.minute > 0);
  const steadyRows = measured.filter((row) => row.minute > options.warmupMinutes);
  const fit = (pick: (row: MinuteRow) => number): Fits => ({
    whole: trendOf(measured.map((row) => row.minute), measured.map(pick)),
    steady: trendOf(steadyRows.map((row) => row.minute), steadyRows.map(pick)),
  });
  const meanOf = (row: MinuteRow, pick: (a: AgentsSample) => number): number => row.agents.reduce((sum, a) => sum + pick(a), 0) / row.agents.length;
  const perProcess = (pick: (a: AgentsSample) => number): Fits => fit((row) => meanOf(row, pick));

  const serverRss = fit((row) => row.server.rssMiB);
  const agentsRss = perProcess((a) => a.rssMiB);
  const heap = perProcess((a) => a.heapUsedMiB);
  const external = perProcess((a) => a.externalMiB);
  const arrayBuffers = perProcess((a) => a.arrayBuffersMiB);
  // Reserved but not used: V8's own sizing (free pages kept, the young generation grown).
  const heapSlack = perProcess((a) => a.heapTotalMiB - a.heapUsedMiB);
  const newSpace = perProcess((a) => a.newSpaceMiB);
  // What Node cannot name: code (compiled Wasm and JS), native allocations, fragmentation.
  const outside = perProcess((a) => a.rssMiB - a.heapTotalMiB - a.externalMiB);

  const steadyFrom = steadyRows[0]?.minute ?? options.warmupMinutes + 1;
  const window = `steady state (minutes ${steadyFrom}–${options.minutes}, after a ${options.warmupMinutes}-minute warm-up)`;
  const both = (fits: Fits): string => `whole run ${verdictOf(fits.whole, 'MiB')}; ${window} ${verdictOf(fits.steady, 'MiB')}`;
  const verdicts: SoakVerdicts = {
    server: both(serverRss),
    agents: both(agentsRss),
    agentsHeap: both(heap),
    agentsExternal: both(external),
    agentsArrayBuffers: both(arrayBuffers),
    agentsOutside: both(outside),
    agentsHeapSlack: both(heapSlack),
    agentsNewSpace: both(newSpace),
  };

  const first = measured[0]!;
  const last = measured.at(-1)!;
  const worstP99 = (row: MinuteRow): number => Math.max(...row.agents.map((a) => a.loopDelayMs.p99));
  const maxOver = (list: readonly MinuteRow[], pick: (row: MinuteRow) => number): number => Math.max(...list.map(pick));
  const minOver = (list: readonly MinuteRow[], pick: (row: MinuteRow) => number): number => Math.min(...list.map(pick));
  const reservedMax = maxOver(measured, (row) => Math.max(...row.agents.map((a) => a.heapTotalMiB)));
  const reservedSteady = `${minOver(steadyRows, (row) => meanOf(row, (a) => a.heapTotalMiB)).toFixed(1)}–${maxOver(steadyRows, (row) => meanOf(row, (a) => a.heapTotalMiB)).toFixed(1)}`;
  const newSpaceMax = maxOver(measured, (row) => Math.max(...row.agents.map((a) => a.newSpaceMiB)));
  const shape = `${options.agents} agents in ${processes} processes, ${options.minutes} min`;
  const perAgentMiB = (agentsRss.whole.mean * processes) / options.agents;
  const slopeRow = (name: string, fits: Fits, subject: string, baseline: string, note: string): BenchFigure[] => [
    figure({ bench: `soak/${name}`, subject: `${subject} slope, whole run`, baseline, unit: 'MiB/min vs MiB', subjectValue: fits.whole.slope, baselineValue: fits.whole.mean, note: `${note} ${verdictOf(fits.whole, 'MiB')}` }),
    figure({ bench: `soak/${name}-steady`, subject: `${subject} slope, minutes ${steadyFrom}–${options.minutes}`, baseline, unit: 'MiB/min vs MiB', subjectValue: fits.steady.slope, baselineValue: fits.steady.mean, note: `${note} Over the ${window} (the whole run: soak/${name}): ${verdictOf(fits.steady, 'MiB')}` }),
  ];
  const figures = [
    ...slopeRow('server-rss', serverRss, `server RSS (${shape})`, 'server RSS, mean over the fitted minutes', 'ratio = share of the mean per minute; goal flat.'),
    ...slopeRow('agents-rss', agentsRss, `agent process RSS (mean of ${processes} processes, ${options.agentsPerProcess} agents each, launched with the agent's shipped Node flags)`, 'agent process RSS, mean over the fitted minutes', `about ${perAgentMiB.toFixed(1)} MiB per agent; goal flat.`),
    ...slopeRow(
      'agents-heap',
      heap,
      `agent process JS heap used (mean of ${processes} processes${options.gcBeforeSample ? ', after a full GC' : ''})`,
      'agent process heap used, mean over the fitted minutes',
      `goal flat. Whole run: external ${signed(external.whole.slope)} MiB/min (ArrayBuffers ${signed(arrayBuffers.whole.slope)}), RSS outside heap and external ${signed(outside.whole.slope)}, heap reserved but unused ${signed(heapSlack.whole.slope)}.`,
    ),
    figure({
      bench: 'soak/agents-heap-reserved',
      subject: 'agent process JS heap reserved (heap total), largest of any process in any minute',
      baseline: 'agent process heap used, mean over the run',
      unit: 'MiB',
      subjectValue: reservedMax,
      baselineValue: heap.whole.mean,
      note: `V8's reservation against what is live; mean per process ${reservedSteady} MiB over the steady state; young generation at most ${newSpaceMax.toFixed(1)} MiB`,
    }),
    figure({
      bench: 'soak/server-loop-delay',
      subject: `server event-loop delay p99, minute ${last.minute}`,
      baseline: `the same, minute ${first.minute}`,
      unit: 'ms',
      subjectValue: last.server.loopDelayMs.p99,
      baselineValue: first.server.loopDelayMs.p99,
      note: `lower is better; worst p99 over the steady state ${maxOver(steadyRows, (r) => r.server.loopDelayMs.p99)} ms, worst max over the run ${maxOver(measured, (r) => r.server.loopDelayMs.max)} ms`,
    }),
    figure({
      bench: 'soak/agents-loop-delay',
      subject: `agent processes' event-loop delay p99 (worst process), minute ${last.minute}`,
      baseline: `the same, minute ${first.minute}`,
      unit: 'ms',
      subjectValue: worstP99(last),
      baselineValue: worstP99(first),
      note: `lower is better; worst p99 over the steady state ${maxOver(steadyRows, worstP99)} ms, worst max over the run ${maxOver(measured, (r) => Math.max(...r.agents.map((a) => a.loopDelayMs.max)))} ms`,
    }),
  ];
  return { figures, section: soakSection(options, processes, rows, verdicts) };
}
