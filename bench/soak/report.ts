/** The soak's per-minute table and verdicts, as the RESULTS.md section it owns. */
import { availableParallelism } from 'node:os';
import { AGENT_NODE_FLAGS } from '../../bundle/launch.js';
import { machineLine } from '../results-md.js';
import type { ProcessSample } from './process-stats.js';

export interface MinuteRow {
  readonly minute: number;
  /** The machine's 1-minute load average at the sample (the soak's own processes included). */
  readonly load1: number;
  readonly server: ProcessSample & { batchesStored: number };
  readonly agents: ReadonlyArray<ProcessSample & { agents: number; acked: number; pending: number; dropped: number }>;
}

/** The heading run.ts replaces this section by. */
export const SOAK_HEADING = '## Soak: per-minute samples';

const mib = (value: number): string => value.toFixed(1);
const delays = (d: ProcessSample['loopDelayMs']): string => `${d.p50} / ${d.p99} / ${d.max}`;
const heapParts = (agents: readonly ProcessSample[]): string => {
  const mean = (pick: (a: ProcessSample) => number): string => mib(agents.reduce((sum, a) => sum + pick(a), 0) / agents.length);
  return `${mean((a) => a.heapUsedMiB)} / ${mean((a) => a.heapTotalMiB)} / ${mean((a) => a.externalMiB)} / ${mean((a) => a.arrayBuffersMiB)}`;
};

/** Each series' trend in words, over the whole run and over the steady state (summary.ts). */
export interface SoakVerdicts {
  readonly server: string;
  readonly agents: string;
  readonly agentsHeap: string;
  readonly agentsExternal: string;
  readonly agentsArrayBuffers: string;
  readonly agentsOutside: string;
  readonly agentsHeapSlack: string;
  readonly agentsNewSpace: string;
}

export function soakSection(
  options: { agents: number; agentsPerProcess: number; minutes: number; sampleMs: number; gcBeforeSample: boolean; warmupMinutes: number },
  processes: number,
  rows: readonly MinuteRow[],
  verdicts: SoakVerdicts,
): string {
  const env = `WF_SOAK_AGENTS=${options.agents} WF_SOAK_AGENTS_PER_PROCESS=${options.agentsPerProcess} WF_SOAK_MINUTES=${options.minutes} WF_SOAK_WARMUP_MINUTES=${options.warmupMinutes}${options.sampleMs !== 60_000 ? ` WF_SOAK_SAMPLE_SECONDS=${options.sampleMs / 1000}` : ''}${options.gcBeforeSample ? '' : ' WF_SOAK_GC=0'}`;
  const lines = [
    SOAK_HEADING,
    '',
    `Command: \`${env} npm run bench -- soak\`, ${new Date().toISOString()}  `,
    `Machine: ${machineLine()}; 1-minute load average over the run (the soak's own processes included) mean ${(rows.reduce((sum, r) => sum + r.load1, 0) / Math.max(1, rows.length)).toFixed(2)}, max ${Math.max(...rows.map((r) => r.load1)).toFixed(2)} on ${availableParallelism()} cores  `,
    `${options.agents} agents (${processes} processes of up to ${options.agentsPerProcess}, each agent its own state directory, ema deployed, one 10-sample batch a second each) against the one-process server in its own process; the agents processes are launched as the systemd unit launches the agent (bundle/launch.ts: Node flags ${AGENT_NODE_FLAGS.join(' ')} and its environment). Each row covers the minute before it; minute 0 is start-up, provisioning and the rollout, left out of the trends. Every trend is fitted over the whole run (minutes 1–${options.minutes}) and over the steady state after a warm-up window fixed before the run (minutes ${options.warmupMinutes + 1}–${options.minutes}). Event-loop delay p50 / p99 / max in ms beyond the 10 ms sampling interval (perf_hooks.monitorEventLoopDelay in each process); for the agents the worst process's (by p99). Agent heap: process.memoryUsage() per agents process, mean over the processes: JS heap used / reserved, external (C++ memory bound to JS objects, Wasm linear memories included) / of that ArrayBuffers (Buffers). ${options.gcBeforeSample ? 'Every process runs a full GC before its sample, so memory figures are what is live (the GC pause is kept out of the loop delays)' : 'No GC before the samples (WF_SOAK_GC=0): memory figures include garbage not yet collected'}.`,
    '',
    '| minute | load | server RSS MiB | server heap MiB | server loop delay ms | agent processes RSS MiB (sum) | per process | per agent | agent heap used / total / external / arrayBuffers MiB (per process) | agents loop delay ms | batches stored | agents: acked / pending / dropped |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const total = row.agents.reduce((sum, a) => sum + a.rssMiB, 0);
    const agentCount = row.agents.reduce((sum, a) => sum + a.agents, 0);
    const worst = row.agents.reduce((w, a) => (a.loopDelayMs.p99 > w.loopDelayMs.p99 ? a : w), row.agents[0]!);
    const sum = (pick: (a: MinuteRow['agents'][number]) => number): number => row.agents.reduce((s, a) => s + pick(a), 0);
    lines.push(
      `| ${row.minute} | ${row.load1.toFixed(2)} | ${mib(row.server.rssMiB)} | ${mib(row.server.heapUsedMiB)} | ${delays(row.server.loopDelayMs)} | ${mib(total)} | ${mib(total / row.agents.length)} | ${mib(total / Math.max(1, agentCount))} | ${heapParts(row.agents)} | ${delays(worst.loopDelayMs)} | ${row.server.batchesStored} | ${sum((a) => a.acked)} / ${sum((a) => a.pending)} / ${sum((a) => a.dropped)} |`,
    );
  }
  lines.push(
    '',
    `- Server RSS trend: ${verdicts.server}.`,
    `- Agent process RSS trend (mean per process): ${verdicts.agents}.`,
    `- Of that, JS heap used: ${verdicts.agentsHeap}; external: ${verdicts.agentsExternal}; ArrayBuffers: ${verdicts.agentsArrayBuffers}; RSS outside heap and external (code, native, fragmentation): ${verdicts.agentsOutside}.`,
    `- Heap reserved but unused (heap total − used: V8's sizing, not objects): ${verdicts.agentsHeapSlack}; of the reservation, the young generation: ${verdicts.agentsNewSpace}.`,
  );
  return lines.join('\n');
}
