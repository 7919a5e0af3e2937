/** The soak's per-minute table and verdicts, as the RESULTS.md section it owns. */
import { machineLine } from '../results-md.js';
import type { ProcessSample } from './process-stats.js';

export interface MinuteRow {
  readonly minute: number;
  readonly server: ProcessSample & { batchesStored: number };
  readonly agents: ReadonlyArray<ProcessSample & { agents: number; acked: number; pending: number; dropped: number }>;
}

/** The heading run.ts replaces this section by. */
export const SOAK_HEADING = '## Soak: per-minute samples';

const mib = (value: number): string => value.toFixed(1);
const delays = (d: ProcessSample['loopDelayMs']): string => `${d.p50} / ${d.p99} / ${d.max}`;

export function soakSection(
  options: { agents: number; agentsPerProcess: number; minutes: number; sampleMs: number },
  processes: number,
  rows: readonly MinuteRow[],
  verdicts: { server: string; agents: string },
): string {
  const env = `WF_SOAK_AGENTS=${options.agents} WF_SOAK_AGENTS_PER_PROCESS=${options.agentsPerProcess} WF_SOAK_MINUTES=${options.minutes}${options.sampleMs !== 60_000 ? ` WF_SOAK_SAMPLE_SECONDS=${options.sampleMs / 1000}` : ''}`;
  const lines = [
    SOAK_HEADING,
    '',
    `Command: \`${env} npm run bench -- soak\`, ${new Date().toISOString()}  `,
    `Machine: ${machineLine()}  `,
    `${options.agents} agents (${processes} processes of up to ${options.agentsPerProcess}, each agent its own state directory, ema deployed, one 10-sample batch a second each) against the one-process server in its own process. Each row covers the minute before it; minute 0 is start-up, provisioning and the rollout, left out of the trends. Event-loop delay p50 / p99 / max in ms beyond the 10 ms sampling interval (perf_hooks.monitorEventLoopDelay in each process); for the agents the worst process's (by p99).`,
    '',
    '| minute | server RSS MiB | server heap MiB | server loop delay ms | agent processes RSS MiB (sum) | per process | per agent | agents loop delay ms | batches stored | agents: acked / pending / dropped |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    const total = row.agents.reduce((sum, a) => sum + a.rssMiB, 0);
    const agentCount = row.agents.reduce((sum, a) => sum + a.agents, 0);
    const worst = row.agents.reduce((w, a) => (a.loopDelayMs.p99 > w.loopDelayMs.p99 ? a : w), row.agents[0]!);
    const sum = (pick: (a: MinuteRow['agents'][number]) => number): number => row.agents.reduce((s, a) => s + pick(a), 0);
    lines.push(
      `| ${row.minute} | ${mib(row.server.rssMiB)} | ${mib(row.server.heapUsedMiB)} | ${delays(row.server.loopDelayMs)} | ${mib(total)} | ${mib(total / row.agents.length)} | ${mib(total / Math.max(1, agentCount))} | ${delays(worst.loopDelayMs)} | ${row.server.batchesStored} | ${sum((a) => a.acked)} / ${sum((a) => a.pending)} / ${sum((a) => a.dropped)} |`,
    );
  }
  lines.push('', `- Server RSS trend: ${verdicts.server}.`, `- Agent process RSS trend (mean per process): ${verdicts.agents}.`);
  return lines.join('\n');
}
