/**
 * A simulated fleet in one process: real agents (startAgent: MQTT, desired state, module fetch
 * and verification, sandbox, simulated sensor sources, results), several devices per process.
 * Used by bench/rollout-scale.ts and the rollout end-to-end tests, which start a few of these.
 *
 * Input: argv[2] is a JSON file { profile, isolation?, devices: [{ deviceId, broker, stateDir }] }.
 * stdin takes JSON lines: {"cmd":"add","device":{…}} | {"cmd":"stop","id":…} | {"cmd":"start","id":…}
 * | {"cmd":"profile-start"} | {"cmd":"profile-stop","dir":…,"name":…} (a CPU profile of this process
 * over a span, bench/scale/cpu-profile.ts).
 * stdout gets JSON lines: {"ready":N} once all first devices started, {"ok":cmd,"id":…} per command
 * ({"ok":"profile-stop","top":[…]}: top functions by self time), and with WF_BENCH_AGENTS_TICK=1
 * {"tick":{connected,desired,running,loopMaxMs}} every second (bench/scale/rollout-timeline.ts).
 * `isolation` is the agents' config field (default `metered`: modules on the agents' thread).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { createLogger } from '../common/logger.js';
import { startAgent, type RunningAgent } from '../device-agent/agent.js';
import type { AgentConfig } from '../device-agent/config.js';
import type { Isolation } from '../wasm-host/select.js';
import { startProfiling, type Profiling } from './scale/cpu-profile.js';

interface FleetSpec {
  profile: string;
  isolation?: Isolation;
  /** Devices started per second; 0: all at once. */
  startRate?: number;
  /**
   * At most this many agents started and not yet connected at a time (0 or absent: no window).
   * Paces the start-up by the broker's answers rather than by a fixed rate alone: with
   * thousands of agents on a loaded machine a fixed rate can outrun the broker's CONNACKs past
   * the agents' connect timeout, and every retry adds a CONNECT to the queue.
   */
  connectWindow?: number;
  /** Every agent's reconnect period (and backoff cap: no growth); default spread over 1-5 s. */
  reconnectPeriodMs?: number;
  devices: Array<Pick<AgentConfig, 'deviceId' | 'broker' | 'stateDir' | 'trust'>>;
}

/**
 * V8 keeps one native module per distinct binary in a process (its native module cache): while one
 * agent's compiled module lives, every other agent here compiling the same metered bytes gets it
 * back without decoding, validating, allocating code space or compiling import wrappers, and
 * functions one agent compiled lazily are compiled for all. A gateway runs one agent and compiles
 * each binary once, so it never hits that cache; with it the simulated devices shared the
 * compile (about 1.2 ms of CPU per device for ema, docs/agent.md §What an agent costs). Set before
 * any compile; the agents' product flags (bundle/launch.ts) do not need it.
 */
setFlagsFromString('--no-wasm-native-module-cache-enabled');

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as FleetSpec;
const logger = createLogger({ component: 'rollout-agents', level: (process.env.WASMFLEET_LOG_LEVEL as 'warn' | undefined) ?? 'warn' });
const running = new Map<string, RunningAgent>();
const known = new Map<string, FleetSpec['devices'][number]>();

const start = async (device: FleetSpec['devices'][number]): Promise<void> => {
  known.set(device.deviceId, device);
  if (running.has(device.deviceId)) return;
  const agent = await startAgent(
    // Reconnect periods spread over 1-5 s, so a fleet whose broker restarts does not come back
    // in one burst past the broker's per-address connection rate.
    {
      ...device,
      profile: spec.profile,
      ...(spec.reconnectPeriodMs ? { reconnectPeriodMs: spec.reconnectPeriodMs, reconnectMaxMs: spec.reconnectPeriodMs } : { reconnectPeriodMs: 1000 + ((known.size * 397) % 4000) }),
      ...(spec.isolation ? { isolation: spec.isolation } : {}),
    },
    { logger: logger.child({ deviceId: device.deviceId }) },
  );
  running.set(device.deviceId, agent);
};

const say = (line: object) => process.stdout.write(JSON.stringify(line) + '\n');

let stopping = false;
const shutdown = async () => {
  // Also while the paced start-up below is still going: it stops starting devices, and the
  // process ends within a bound even if an agent's stop hangs.
  stopping = true;
  setTimeout(() => process.exit(1), 15_000).unref();
  await Promise.allSettled([...running.values()].map((agent) => agent.stop()));
  process.exit(0);
};
const commands = createInterface({ input: process.stdin });
// The parent going away (stdin closed) ends the fleet too.
commands.once('close', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
// Commands sent before the first devices all started wait for them.
const early: string[] = [];
let onCommand = (line: string): void => void early.push(line);
commands.on('line', (line) => onCommand(line));

// Started at `startRate` per second, so a fleet in a few processes stays under the broker's
// per-address connection rate (10/s by default; raise it for benchmarks).
const perSecond = spec.startRate ?? 0;
const window = spec.connectWindow ?? 0;
const connecting = (): number => {
  let count = 0;
  for (const agent of running.values()) if (!agent.progress().connected) count += 1;
  return count;
};
let secondStart = Date.now();
for (let i = 0; i < spec.devices.length && !stopping; i += 1) {
  if (perSecond > 0 && i > 0 && i % perSecond === 0) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - (Date.now() - secondStart))));
    secondStart = Date.now();
  }
  while (window > 0 && !stopping && connecting() >= window) await new Promise((resolve) => setTimeout(resolve, 20));
  await start(spec.devices[i]!);
}
say({ ready: running.size });

if (process.env.WF_BENCH_AGENTS_TICK === '1') {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const ticker = setInterval(() => {
    // The parent gone (stdin closed, shutdown under way): nobody to tell, and stdout would EPIPE.
    if (stopping) return clearInterval(ticker);
    // progress(), not stats() and reportedState(): building a thousand reports a second was 9% of
    // an agents process's busy time in a 10,000-device rollout, charged to the agents' CPU.
    let connected = 0;
    let desired = 0;
    let runningModule = 0;
    for (const agent of running.values()) {
      const progress = agent.progress();
      if (progress.connected) connected += 1;
      if (progress.modules > 0) desired += 1;
      if (progress.running > 0) runningModule += 1;
    }
    say({ tick: { connected, desired, running: runningModule, loopMaxMs: Math.round(loop.max / 1e6) } });
    loop.reset();
  }, 1000).unref();
}

/**
 * WF_BENCH_AGENTS_IDLE_PROFILE=DIR: where this process's idle fleet's CPU goes. From 3 s after all its
 * agents are connected: 5 s unprofiled, whose CPU per agent and second (process.cpuUsage) goes to
 * stderr, then a CPU profile (DIR/agents-idle-<pid>.cpuprofile) until the first agent holds a
 * desired state (or 15 s), its top functions to stderr too. The profiler costs CPU of its own: the
 * first figure is the one to read, and the note's idle figure is inflated by the second span.
 */
async function profileIdle(dir: string): Promise<void> {
  const idleNow = () => {
    for (const agent of running.values()) {
      const progress = agent.progress();
      if (!progress.connected || progress.modules > 0) return false;
    }
    return true;
  };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const deadline = Date.now() + 600_000;
  while (!stopping && !idleNow() && Date.now() < deadline) await sleep(250);
  await sleep(3000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(5000);
  if (stopping || !idleNow()) return;
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const say = (line: object) => process.stderr.write(`${JSON.stringify(line)}\n`);
  say({ idleCpu: { pid: process.pid, seconds: +seconds.toFixed(1), cpuSeconds: +cpuSeconds.toFixed(3), agents: running.size, usPerAgentSecond: +((cpuSeconds * 1e6) / seconds / Math.max(1, running.size)).toFixed(1) } });
  const session = await startProfiling();
  const t1 = performance.now();
  while (!stopping && idleNow() && performance.now() - t1 < 15_000) await sleep(100);
  say({ idleProfile: { pid: process.pid, seconds: +((performance.now() - t1) / 1000).toFixed(1), top: await session.stop(dir, `agents-idle-${process.pid}`, 12) } });
}
if (process.env.WF_BENCH_AGENTS_IDLE_PROFILE) void profileIdle(process.env.WF_BENCH_AGENTS_IDLE_PROFILE);

let profiling: Profiling | undefined;
onCommand = (line) => {
  void (async () => {
    const command = JSON.parse(line) as { cmd: 'add' | 'stop' | 'start' | 'profile-start' | 'profile-stop'; id?: string; device?: FleetSpec['devices'][number]; dir?: string; name?: string };
    if (command.cmd === 'profile-start') profiling = await startProfiling();
    else if (command.cmd === 'profile-stop' && command.dir && command.name) {
      const top = (await profiling?.stop(command.dir, command.name)) ?? [];
      profiling = undefined;
      return say({ ok: command.cmd, top });
    } else if (command.cmd === 'add' && command.device) await start(command.device);
    else if (command.cmd === 'stop' && command.id) {
      await running.get(command.id)?.stop();
      running.delete(command.id);
    } else if (command.cmd === 'start' && command.id && known.has(command.id)) await start(known.get(command.id)!);
    say({ ok: command.cmd, id: command.id ?? command.device?.deviceId });
  })().catch((error) => say({ error: String(error) }));
};
early.splice(0).forEach(onCommand);

