/**
 * Same-run A/B of the simulated agents' CPU per apply (desired state → module fetched, verified,
 * cached, rewritten, compiled and running), between builds of the agent: N agents of one build
 * start in this process, connect to a broker child (apply-ab-broker.ts, whose CPU is not counted),
 * sit idle, get one desired state each; this process's CPU from the POST-equivalent to every
 * module running, less the idle rate measured just before, divided by N. Builds alternate
 * (A B, B A, …, after a smaller warm-up of each), so load from elsewhere falls on both alike.
 * Not a bench suite: the builds are directories you name (a copy of another tree's dist works).
 *
 *   node dist/bench/scale/apply-ab.js NAME=ROOT [NAME=ROOT …]
 *   WF_AB_AGENTS=500 WF_AB_ROUNDS=2 WF_AB_MODULE=ema
 * ROOT holds dist/ (and modules-as/examples built, node_modules reachable). Run the process with
 * `--no-wasm-native-module-cache-enabled`, as bench/rollout-agents.ts runs its agents, or V8
 * shares one compile between all the agents here. Prints one JSON line per phase and a summary:
 * each build's mean ms of CPU per device and its ratio to the first build's.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { fromRoot } from '../../common/paths.js';

interface Agent {
  progress(): { connected: boolean; running: number };
  whenApplied(revision: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}
type StartAgent = (config: object, deps: { logger: unknown }) => Promise<Agent>;

const builds = process.argv.slice(2).map((arg) => {
  const [name, root] = arg.split('=');
  if (!name || !root) throw new Error(`expected NAME=ROOT, got '${arg}'`);
  return { name, root: resolve(root) };
});
if (builds.length === 0) throw new Error('usage: apply-ab.js NAME=ROOT [NAME=ROOT …]');
const N = Number(process.env.WF_AB_AGENTS ?? 500);
const ROUNDS = Number(process.env.WF_AB_ROUNDS ?? 2);
const MODULE = process.env.WF_AB_MODULE ?? 'ema';

const dir = mkdtempSync(join(tmpdir(), 'wf-apply-ab-'));
// One slow source and a batch a minute: the sensors stay out of the figure.
const profile = JSON.parse(readFileSync(fromRoot('firmware-profiles', 'sim-x86-64.json'), 'utf8')) as { sources: object[]; batch: object };
profile.sources = [{ ...profile.sources[0], rateHz: 0.5 }];
profile.batch = { ...profile.batch, intervalMs: 60_000 };
writeFileSync(join(dir, 'quiet.json'), JSON.stringify(profile));

const broker = spawn(process.execPath, [fromRoot('dist', 'bench', 'scale', 'apply-ab-broker.js'), MODULE], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: broker.stdout! });
const nextLine = (): Promise<Record<string, unknown>> => new Promise((done) => lines.once('line', (line) => done(JSON.parse(line) as Record<string, unknown>)));
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

try {
  const { port, trust } = (await nextLine()) as { port: number; trust: object };
  const results = new Map(builds.map((b) => [b.name, [] as number[]]));
  let phase = 0;
  for (let round = -1; round < ROUNDS; round++) {
    for (const build of round % 2 === 0 ? [...builds].reverse() : builds) {
      phase += 1;
      const prefix = `ph${phase}`;
      const { startAgent } = (await import(pathToFileURL(join(build.root, 'dist', 'device-agent', 'agent.js')).href)) as { startAgent: StartAgent };
      const { silentLogger } = (await import(pathToFileURL(join(build.root, 'dist', 'common', 'logger.js')).href)) as { silentLogger: unknown };
      const count = round < 0 ? Math.ceil(N / 5) : N;
      const agents: Agent[] = [];
      for (let i = 0; i < count; i++) {
        const id = `${prefix}-${i}`;
        const config = { deviceId: id, broker: { url: `mqtt://127.0.0.1:${port}`, username: id, password: 'pw' }, profile: join(dir, 'quiet.json'), stateDir: join(dir, id), reconnectPeriodMs: 1000 + ((i * 397) % 4000), moduleFetchTimeoutMs: 120_000, trust };
        agents.push(await startAgent(config, { logger: silentLogger }));
        if (i % 50 === 49) await sleep(50);
      }
      while (agents.some((a) => !a.progress().connected)) await sleep(200);
      await sleep(1000);
      const idleFrom = cpuMs();
      const idleStart = performance.now();
      await sleep(3000);
      const idlePerMs = (cpuMs() - idleFrom) / (performance.now() - idleStart);
      const applied = agents.map((a) => a.whenApplied(1, 180_000));
      const from = cpuMs();
      const start = performance.now();
      broker.stdin!.write(`desired ${prefix} ${count}\n`);
      await nextLine();
      await Promise.all(applied);
      while (agents.some((a) => a.progress().running === 0) && performance.now() - start < 120_000) await sleep(100);
      const wallMs = performance.now() - start;
      const msPerDevice = (cpuMs() - from - idlePerMs * wallMs) / count;
      const running = agents.filter((a) => a.progress().running > 0).length;
      if (round >= 0) results.get(build.name)!.push(msPerDevice);
      console.log(JSON.stringify({ phase, build: build.name, warmUp: round < 0, agents: count, running, seconds: +(wallMs / 1000).toFixed(1), msPerDevice: +msPerDevice.toFixed(3) }));
      await Promise.all(agents.map((a) => a.stop()));
      await sleep(2000);
    }
  }
  const mean = (xs: number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
  const first = mean(results.get(builds[0]!.name)!);
  const summary = Object.fromEntries([...results].map(([name, runs]) => [name, { runs: runs.map((x) => +x.toFixed(3)), mean: +mean(runs).toFixed(3), vsFirst: +(mean(runs) / first).toFixed(3) }]));
  console.log(JSON.stringify({ agents: N, module: MODULE, v8NativeModuleCache: !process.execArgv.includes('--no-wasm-native-module-cache-enabled'), ...summary }));
} finally {
  broker.stdin!.end();
  broker.kill();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
