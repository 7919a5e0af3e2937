/**
 * One soak process hosting several real agents (startAgent: MQTT, desired state, module fetch and
 * verification, metered sandbox, simulated source, spool, results), each with its own state
 * directory: 200 agent processes would not fit a 2-core machine beside the server.
 *
 * argv[2]: a JSON file { profile, startIntervalMs, devices: [{ deviceId, broker, stateDir, trust }] }.
 * stdout: {"ready":N} once every agent has started, then one {"sample":{…ProcessSample, agents,
 * acked, pending, dropped}} per {"cmd":"sample"} line on stdin; {"cmd":"snapshot","path":P} writes
 * a V8 heap snapshot of this process to P and answers {"snapshot":P} (WF_SOAK_SNAPSHOT_DIR, for
 * finding what grows: scripts/heap-diff.mjs compares two). With `--expose-gc` a sample first runs
 * a full GC (process-stats.ts). stdin closing or SIGTERM stops every agent (each stop is bounded)
 * and exits.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { writeHeapSnapshot } from 'node:v8';
import { createLogger } from '../../common/logger.js';
import { startAgent, type RunningAgent } from '../../device-agent/agent.js';
import type { AgentConfig } from '../../device-agent/config.js';
import { applyAgentMemoryFlags } from '../../device-agent/memory.js';
import { processSampler, say } from './process-stats.js';

interface Spec {
  readonly profile: string;
  /** Between two agent starts, so the fleet's connects stay under the broker's per-address rate. */
  readonly startIntervalMs: number;
  readonly devices: ReadonlyArray<Pick<AgentConfig, 'deviceId' | 'broker' | 'stateDir' | 'trust'>>;
}

// As the agent's entry point does (device-agent/main.ts); the launch flags come from soak.ts.
applyAgentMemoryFlags();
const sample = processSampler();
const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
const logger = createLogger({ component: 'soak-agents', level: 'warn' });
const agents: RunningAgent[] = [];
let stopping = false;

const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled(agents.map((agent) => agent.stop()));
  process.exit(0);
};
const commands = createInterface({ input: process.stdin });
commands.once('close', () => void stop());
commands.on('line', (line) => {
  const command = JSON.parse(line) as { cmd?: string; path?: string };
  if (command.cmd === 'snapshot' && command.path) {
    say({ snapshot: writeHeapSnapshot(command.path) });
    return;
  }
  if (command.cmd !== 'sample') return;
  const stats = agents.map((agent) => agent.stats());
  const total = (pick: (s: (typeof stats)[number]) => number): number => stats.reduce((sum, s) => sum + pick(s), 0);
  say({ sample: { ...sample(), agents: agents.length, acked: total((s) => s.resultsAcked), pending: total((s) => s.resultsPending), dropped: total((s) => s.resultsDropped) } });
});
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());

for (const [index, device] of spec.devices.entries()) {
  if (stopping) break;
  if (index > 0) await new Promise((resolve) => setTimeout(resolve, spec.startIntervalMs));
  // Reconnect windows spread over 1-5 s, so agents that lose the server do not return in one burst.
  agents.push(await startAgent({ ...device, profile: spec.profile, reconnectPeriodMs: 1000 + ((index * 397) % 4000) }, { logger: logger.child({ deviceId: device.deviceId }) }));
}
say({ ready: agents.length });
