/**
 * A rollout's timeline, one line a second on stderr: how many devices are healthy and pending, how
 * many are online, what each part spent of a core in that second (API, broker, agents, all from
 * /proc or process.cpuUsage) and the API's and agents' worst event-loop delay. A stall (seconds
 * with no device turning healthy) is then visible beside what every process was doing in it,
 * instead of guessed from the end-to-end time. The longest stall goes into the bench's note. Counts are read from SQLite
 * directly, so they move while the POST itself is still waiting for its PUBACKs.
 */
import type { ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { cpuSecondsOf } from '../broker/broker-child.js';

/** What an agents process says every second (bench/rollout-agents.ts, WF_BENCH_AGENTS_TICK=1). */
export interface AgentsTick {
  connected: number;
  /** Agents running the module of the newest desired state they hold. */
  running: number;
  /** Agents holding a desired state with a module (received it), running it or not. */
  desired: number;
  /** Worst event-loop delay over the second, ms. */
  loopMaxMs: number;
}

export interface TimelineCounts {
  healthy: number;
  pending: number;
  applied: number;
  failed: number;
}

export interface Timeline {
  /** Stops and returns the longest span with no device turning healthy, before all were. */
  stop(): { longestStallS: number; stallStartS: number; lines: string[] };
}

/** The API's MQTT link as its counters say: messages received, connects, re-syncs, publishes. */
export interface LinkView {
  received: number;
  connects: number;
  resyncs: number;
  published: number;
  publishFailed: number;
}

export function startTimeline(parts: { brokerCpuSeconds: () => number; agents: ChildProcess[]; online: () => number; counts: () => TimelineCounts; link: () => LinkView }): Timeline {
  const started = Date.now();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const ticks = new Map<number, AgentsTick>();
  for (const child of parts.agents) {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('{"tick"')) return;
      ticks.set(child.pid!, (JSON.parse(line) as { tick: AgentsTick }).tick);
    });
  }
  const agentsCpu = () => parts.agents.reduce((sum, child) => sum + cpuSecondsOf(child.pid!), 0);
  let last = { at: Date.now(), api: process.cpuUsage(), broker: parts.brokerCpuSeconds(), agents: agentsCpu(), healthy: 0, link: parts.link() };
  let lastProgressAt = started;
  let longest = { ms: 0, startMs: 0 };
  const lines: string[] = [];
  const timer = setInterval(() => {
    const now = Date.now();
    const latest = parts.counts();
    if (latest.healthy > last.healthy) {
      if (now - lastProgressAt > longest.ms) longest = { ms: now - lastProgressAt, startMs: lastProgressAt - started };
      lastProgressAt = now;
    }
    const seconds = (now - last.at) / 1000;
    const api = process.cpuUsage(last.api);
    const broker = parts.brokerCpuSeconds();
    const agents = agentsCpu();
    const link = parts.link();
    const sum = { connected: 0, running: 0, desired: 0, loopMaxMs: 0 };
    for (const tick of ticks.values()) {
      sum.connected += tick.connected;
      sum.running += tick.running;
      sum.desired += tick.desired;
      sum.loopMaxMs = Math.max(sum.loopMaxMs, tick.loopMaxMs);
    }
    const core = (cpu: number) => (cpu / seconds).toFixed(2);
    const line =
      `t=${((now - started) / 1000).toFixed(0)}s healthy=${latest.healthy} applied=${latest.applied} pending=${latest.pending} failed=${latest.failed} online=${parts.online()}` +
      ` | cores api=${core((api.user + api.system) / 1e6)} broker=${core(broker - last.broker)} agents=${core(agents - last.agents)}` +
      ` | loop max api=${(loop.max / 1e6).toFixed(0)}ms agents=${sum.loopMaxMs.toFixed(0)}ms | agents connected=${sum.connected} desired=${sum.desired} running=${sum.running}` +
      ` | link received/s=${link.received - last.link.received} published/s=${link.published - last.link.published} failed=${link.publishFailed} connects=${link.connects} resyncs=${link.resyncs}`;
    loop.reset();
    lines.push(line);
    process.stderr.write(`rollout-10k ${line}\n`);
    last = { at: now, api: process.cpuUsage(), broker, agents, healthy: latest.healthy, link };
  }, 1000);
  return {
    stop() {
      clearInterval(timer);
      loop.disable();
      return { longestStallS: longest.ms / 1000, stallStartS: longest.startMs / 1000, lines };
    },
  };
}
