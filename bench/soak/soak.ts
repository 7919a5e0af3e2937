/**
 * Soak (issue 17, opt-in: `npm run bench -- soak`): WF_SOAK_AGENTS real agents (default 200),
 * WF_SOAK_AGENTS_PER_PROCESS to a process (default 20), each with its own state directory and the
 * signed ema example deployed so results flow all along, against the one-process server in its
 * own process, for WF_SOAK_MINUTES (default 30). Every minute each process reports its RSS, heap
 * and event-loop delay over that minute (bench/soak/process-stats.ts); the per-minute table goes
 * to RESULTS.md as a section of its own, and the figures are the trend verdicts: the
 * least-squares slope of RSS per minute relative to its mean, and whether it is within noise;
 * the agents' JS heap, external memory and ArrayBuffers get the same, so the bench itself says
 * which part of a growing RSS grows. The goal is flat. Minute 0 (start-up, provisioning, the
 * rollout) is shown but not in the trend.
 *
 * Each process runs a full GC before its sample (WF_SOAK_GC=0 turns that off), so the memory
 * figures are what is live: without it an agents process's RSS rose ~0.4 MiB/min with garbage
 * that V8 had not yet collected 20 minutes in, which a forced GC gave back at once. For finding
 * what grows, WF_SOAK_SNAPSHOT_DIR=dir writes V8 heap snapshots of the first agents process at
 * the minutes in WF_SOAK_SNAPSHOT_MINUTES (default the first and the last), for
 * scripts/heap-diff.mjs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createApiClient } from '../../cli/api-client.js';
import { loadSigningKey } from '../../cli/commands/keys.js';
import { publishModuleDir } from '../../cli/commands/module.js';
import { AGENT_ENVIRONMENT, AGENT_NODE_FLAGS } from '../../bundle/launch.js';
import { fromRoot } from '../../common/paths.js';
import { KEY_FILES } from '../../fleet-api/index.js';
import type { AgentTrust } from '../../protocol/index.js';
import type { BenchFigure } from '../figure.js';
import { SoakChild, stopAll } from './children.js';
import type { ProcessSample } from './process-stats.js';
import type { MinuteRow } from './report.js';
import { summarise } from './summary.js';

export interface SoakOptions {
  readonly agents: number;
  readonly agentsPerProcess: number;
  readonly minutes: number;
  /** One minute; shorter only to try the bench itself. */
  readonly sampleMs: number;
  /** A full GC in each process before its sample. */
  readonly gcBeforeSample: boolean;
  /** Where heap snapshots of the first agents process go; none when undefined. */
  readonly snapshotDir: string | undefined;
  readonly snapshotMinutes: readonly number[];
  /** Minutes after minute 0 left out of the steady-state fit (reported beside the whole-run fit). */
  readonly warmupMinutes: number;
}

export function soakOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SoakOptions {
  const positive = (name: string, fallback: number): number => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, not '${env[name]}'`);
    return value;
  };
  const minutes = positive('WF_SOAK_MINUTES', 30);
  const snapshotMinutes = (env.WF_SOAK_SNAPSHOT_MINUTES ?? `1,${minutes}`).split(',').map(Number);
  if (snapshotMinutes.some((m) => !Number.isInteger(m) || m < 0 || m > minutes)) throw new Error(`WF_SOAK_SNAPSHOT_MINUTES must be minutes from 0 to ${minutes}, comma-separated, not '${env.WF_SOAK_SNAPSHOT_MINUTES}'`);
  // Fixed before the run, never chosen from its data: a third of it (10 of 30 minutes) covers what
  // a process does once (JIT warm-up, V8 sizing its spaces to the load) and leaves 20 points to fit.
  const warmupMinutes = Number(env.WF_SOAK_WARMUP_MINUTES ?? Math.floor(minutes / 3));
  if (!Number.isInteger(warmupMinutes) || warmupMinutes < 0 || warmupMinutes > Math.max(0, minutes - 3)) throw new Error(`WF_SOAK_WARMUP_MINUTES must be a whole number from 0 to ${Math.max(0, minutes - 3)} (three minutes left to fit), not '${env.WF_SOAK_WARMUP_MINUTES}'`);
  return {
    agents: positive('WF_SOAK_AGENTS', 200),
    agentsPerProcess: positive('WF_SOAK_AGENTS_PER_PROCESS', 20),
    minutes,
    sampleMs: positive('WF_SOAK_SAMPLE_SECONDS', 60) * 1000,
    gcBeforeSample: env.WF_SOAK_GC !== '0',
    snapshotDir: env.WF_SOAK_SNAPSHOT_DIR || undefined,
    snapshotMinutes,
    warmupMinutes,
  };
}

type ServerSample = ProcessSample & { batchesStored: number };
type AgentsSample = ProcessSample & { agents: number; acked: number; pending: number; dropped: number };

const SAMPLE_TIMEOUT_MS = 30_000;

/** sim-x86-64 with its temperature source alone at 10 Hz and one batch a second: one result per agent per second. */
function soakProfile(dir: string): string {
  const profile = JSON.parse(readFileSync(fromRoot('firmware-profiles', 'sim-x86-64.json'), 'utf8')) as { name: string; sources: Array<Record<string, unknown>>; batch: Record<string, number> };
  profile.name = 'soak';
  profile.sources = [{ ...profile.sources[0]!, rateHz: 10 }];
  profile.batch = { ...profile.batch, intervalMs: 1000 };
  const path = join(dir, 'soak-profile.json');
  writeFileSync(path, JSON.stringify(profile));
  return path;
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`soak timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const progress = (text: string): void => void process.stderr.write(`soak: ${text}\n`);

export async function runSoak(options: SoakOptions): Promise<{ figures: BenchFigure[]; section: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-soak-'));
  const children: SoakChild[] = [];
  const rows: MinuteRow[] = [];
  const processes = Math.ceil(options.agents / options.agentsPerProcess);
  try {
    const nodeArgs = options.gcBeforeSample ? ['--expose-gc'] : [];
    const server = new SoakChild('server', 'server-child.js', [join(dir, 'data')], nodeArgs);
    children.push(server);
    const ready = await server.next<{ apiUrl: string; token: string }>('ready', 60_000);
    const api = createApiClient(ready.apiUrl, ready.token);

    progress(`provisioning ${options.agents} devices`);
    const devices: Array<{ deviceId: string; broker: { url: string; username: string; password: string }; stateDir: string; trust: AgentTrust }> = [];
    for (let i = 0; i < options.agents; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(20, options.agents - i) }, async (_, j) => {
          const id = `soak-${String(i + j).padStart(4, '0')}`;
          const provisioned = await api.post<{ mqtt: { url: string; username: string; password: string }; trust: AgentTrust }>('/api/v1/devices', { id, profile: 'sim-x86-64', tags: { bench: 'soak' } });
          return { deviceId: id, broker: provisioned.mqtt, stateDir: join(dir, 'agents', id), trust: provisioned.trust };
        }),
      );
      devices.push(...batch);
    }
    await publishModuleDir(api, fromRoot('modules-as', 'examples', 'ema'), loadSigningKey(join(dir, 'data', 'keys', KEY_FILES.publisher), 'publisher key'));

    progress(`starting ${options.agents} agents in ${processes} processes`);
    const profile = soakProfile(dir);
    for (let p = 0; p < processes; p++) {
      const spec = join(dir, `agents-${p}.json`);
      // About 6 connects a second in all: under the broker's default per-address rate (10/s), which stays on.
      writeFileSync(spec, JSON.stringify({ profile, startIntervalMs: Math.round((processes * 1000) / 6), devices: devices.slice(p * options.agentsPerProcess, (p + 1) * options.agentsPerProcess) }));
      // The agent's shipped launch (bundle/launch.ts: the systemd unit's Node flags and environment), so the soak measures what ships.
      children.push(new SoakChild(`agents-${p}`, 'agents-child.js', [spec], [...AGENT_NODE_FLAGS, ...nodeArgs], AGENT_ENVIRONMENT));
    }
    const agentProcesses = children.slice(1);
    await Promise.all(agentProcesses.map((child) => child.next('ready', 60_000 + (options.agentsPerProcess * processes * 1000) / 6)));

    const deployment = await api.post<{ id: string }>('/api/v1/deployments', {
      module: 'ema',
      version: '1.0.0',
      target: { tags: { bench: 'soak' } },
      config: { alpha: 0.2 },
      strategy: { canary: 0, soakSeconds: 0, ratePerMinute: 0 },
    });
    await until('every agent running ema', async () => (await api.get<{ counts: Record<string, number> }>(`/api/v1/deployments/${deployment.id}`)).counts.healthy === options.agents, 600_000);

    const takeSample = async (minute: number): Promise<void> => {
      const [serverSample, ...agentSamples] = await Promise.all([server.sample<ServerSample>(SAMPLE_TIMEOUT_MS), ...agentProcesses.map((child) => child.sample<AgentsSample>(SAMPLE_TIMEOUT_MS))]);
      rows.push({ minute, load1: loadavg()[0]!, server: serverSample!, agents: agentSamples });
      const last = rows.at(-1)!;
      progress(`minute ${minute}: server ${last.server.rssMiB.toFixed(1)} MiB, agents ${agentSamples.reduce((s, a) => s + a.rssMiB, 0).toFixed(1)} MiB (first process heap ${agentSamples[0]!.heapUsedMiB.toFixed(1)}, external ${agentSamples[0]!.externalMiB.toFixed(1)}), ${last.server.batchesStored} batches stored`);
      if (options.snapshotDir && options.snapshotMinutes.includes(minute)) {
        progress(`heap snapshot of agents-0: ${await agentProcesses[0]!.snapshot(join(options.snapshotDir, `agents-0-minute-${String(minute).padStart(2, '0')}.heapsnapshot`), 300_000)}`);
      }
    };
    await takeSample(0);
    const start = Date.now();
    for (let minute = 1; minute <= options.minutes; minute++) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + minute * options.sampleMs - Date.now())));
      await takeSample(minute);
    }
  } finally {
    // The agents first, so none of them logs a lost server on its way out.
    const killed = [...(await stopAll(children.slice(1))), ...(await stopAll(children.slice(0, 1)))];
    if (killed.length > 0) progress(`had to SIGKILL ${killed.join(', ')} (their stop is bounded at 5 s)`);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
  return summarise(options, processes, rows);
}

/** The last run's section for RESULTS.md (set by runSoak through the suite). */
export let lastSoakSection: string | undefined;

export async function benchSoak(): Promise<BenchFigure[]> {
  const { figures, section } = await runSoak(soakOptionsFromEnv());
  lastSoakSection = section;
  return figures;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { figures, section } = await runSoak(soakOptionsFromEnv());
  console.log(section);
  console.log(JSON.stringify(figures, null, 2));
  process.exit(0);
}
