/**
 * Where an apply's CPU goes, by thread: N agents of this build in this process against the broker
 * child of apply-ab.ts, idle, then one desired state each (as apply-ab.ts). Reads every thread's
 * CPU (/proc/self/task/TID/stat, by its name in comm: the main thread, V8's workers, libuv's
 * pool, …) over an idle span and over the wave, and prints per thread name the wave's ms per
 * device less the idle rate, and the MQTT packets the agents sent per device during the wave
 * (counted by the broker child). WF_AB_WARMUP=M first applies with M other agents and stops them,
 * so the measured wave runs in a process whose JIT has seen an apply (as apply-ab.ts does). WF_AB_PERF=FILE also records `perf record -g` of this process
 * over the wave (run node with --perf-basic-prof to name JS frames); WF_AB_SYSCALLS=1 counts this
 * process's file and socket system calls over the wave instead (`perf stat`, tracepoints: root).
 *
 *   node --no-wasm-native-module-cache-enabled dist/bench/scale/apply-threads.js
 *   WF_AB_AGENTS=500 WF_AB_MODULE=ema WF_AB_PERF=/tmp/apply.perf
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { startAgent } from '../../device-agent/agent.js';
import { silentLogger } from '../../common/logger.js';
import { fromRoot } from '../../common/paths.js';

const N = Number(process.env.WF_AB_AGENTS ?? 500);
const MODULE = process.env.WF_AB_MODULE ?? 'ema';
const PERF = process.env.WF_AB_PERF;
const SYSCALLS = ['openat', 'rename', 'fsync', 'mkdir', 'unlink', 'write', 'writev', 'read', 'close', 'mmap', 'munmap', 'mprotect'];
const TICK_MS = 10; // USER_HZ is 100 on Linux

const dir = mkdtempSync(join(tmpdir(), 'wf-apply-threads-'));
const profile = JSON.parse(readFileSync(fromRoot('firmware-profiles', 'sim-x86-64.json'), 'utf8')) as { sources: object[]; batch: object };
profile.sources = [{ ...profile.sources[0], rateHz: 0.5 }];
profile.batch = { ...profile.batch, intervalMs: 60_000 };
writeFileSync(join(dir, 'quiet.json'), JSON.stringify(profile));

/**
 * CPU ms per thread, from /proc. Node's threads are all named "node" (V8's platform workers,
 * started with the process, and libuv's pool, started at its first use), so each thread is
 * named by its comm and the order it started in: "node#1" … are V8's, later ones libuv's.
 */
function threadCpu(): Map<string, number> {
  const threads: { name: string; start: number; ms: number }[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields from the 3rd of stat: utime 14th, stime 15th, starttime 22nd
      threads.push({ name: tid === String(process.pid) ? 'main (event loop)' : comm, start: Number(fields[19]) * 1e9 + Number(tid), ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS });
    } catch {
      // a thread that ended between readdir and read
    }
  }
  threads.sort((a, b) => a.start - b.start);
  const seen = new Map<string, number>();
  const byName = new Map<string, number>();
  for (const t of threads) {
    const n = (seen.get(t.name) ?? 0) + 1;
    seen.set(t.name, n);
    byName.set(t.name === 'main (event loop)' ? t.name : `${t.name}#${n}`, t.ms);
  }
  return byName;
}
const diff = (a: Map<string, number>, b: Map<string, number>) => new Map([...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)]));

const broker = spawn(process.execPath, [fromRoot('dist', 'bench', 'scale', 'apply-ab-broker.js'), MODULE], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: broker.stdout! });
const nextLine = (): Promise<Record<string, unknown>> => new Promise((done) => lines.once('line', (line) => done(JSON.parse(line) as Record<string, unknown>)));
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

try {
  const { port, trust } = (await nextLine()) as { port: number; trust: object };
  const WARMUP = Number(process.env.WF_AB_WARMUP ?? 0);
  if (WARMUP > 0) {
    const warm = [];
    for (let i = 0; i < WARMUP; i++) {
      const id = `w-${i}`;
      const config = { deviceId: id, broker: { url: `mqtt://127.0.0.1:${port}`, username: id, password: 'pw' }, profile: join(dir, 'quiet.json'), stateDir: join(dir, id), moduleFetchTimeoutMs: 120_000, trust };
      warm.push(await startAgent(config as Parameters<typeof startAgent>[0], { logger: silentLogger }));
    }
    while (warm.some((a) => !a.progress().connected)) await sleep(200);
    const applied = warm.map((a) => a.whenApplied(1, 180_000));
    broker.stdin!.write(`desired w ${WARMUP}\n`);
    await nextLine();
    await Promise.all(applied);
    await Promise.all(warm.map((a) => a.stop()));
    await sleep(1000);
  }
  const agents = [];
  for (let i = 0; i < N; i++) {
    const id = `t-${i}`;
    const config = { deviceId: id, broker: { url: `mqtt://127.0.0.1:${port}`, username: id, password: 'pw' }, profile: join(dir, 'quiet.json'), stateDir: join(dir, id), reconnectPeriodMs: 1000 + ((i * 397) % 4000), moduleFetchTimeoutMs: 120_000, trust };
    agents.push(await startAgent(config as Parameters<typeof startAgent>[0], { logger: silentLogger }));
    if (i % 50 === 49) await sleep(50);
  }
  while (agents.some((a) => !a.progress().connected)) await sleep(200);
  await sleep(2000);
  broker.stdin!.write('counts\n');
  await nextLine();
  const idleFrom = threadCpu();
  const idleStart = performance.now();
  await sleep(5000);
  const idleMs = performance.now() - idleStart;
  const idle = diff(idleFrom, threadCpu());
  const perfArgs = PERF
    ? ['record', '-g', '-o', PERF, '-p', String(process.pid)]
    : process.env.WF_AB_SYSCALLS
      ? ['stat', '-x', ',', ...SYSCALLS.flatMap((name) => ['-e', `syscalls:sys_enter_${name}`]), '-p', String(process.pid)]
      : undefined;
  const perf = perfArgs ? spawn('perf', perfArgs, { stdio: ['ignore', 'ignore', 'pipe'] }) : undefined;
  const perfExited = perf ? new Promise((done) => perf.once('exit', done)) : undefined;
  let perfOut = '';
  perf?.stderr!.on('data', (chunk: Buffer) => (perfOut += chunk.toString()));
  if (perf) await sleep(1000);
  const applied = agents.map((a) => a.whenApplied(1, 180_000));
  const from = threadCpu();
  const start = performance.now();
  broker.stdin!.write(`desired t ${N}\n`);
  await nextLine();
  await Promise.all(applied);
  while (agents.some((a) => a.progress().running === 0) && performance.now() - start < 120_000) await sleep(100);
  const wallMs = performance.now() - start;
  const wave = diff(from, threadCpu());
  // The debounced report after the burst of module state changes lands up to a second later.
  await sleep(1500);
  perf?.kill('SIGINT');
  broker.stdin!.write('counts\n');
  const { counts } = (await nextLine()) as { counts: Record<string, number> };
  const rows = [...wave].map(([name, ms]) => ({ thread: name, msPerDevice: +((ms - ((idle.get(name) ?? 0) * wallMs) / idleMs) / N).toFixed(3), waveMs: ms, idleMsPerS: +(((idle.get(name) ?? 0) * 1000) / idleMs).toFixed(1) }));
  rows.sort((a, b) => b.msPerDevice - a.msPerDevice);
  const total = rows.reduce((sum, r) => sum + r.msPerDevice, 0);
  const running = agents.filter((a) => a.progress().running > 0).length;
  console.log(JSON.stringify({ agents: N, warmUpAgents: WARMUP, module: MODULE, running, seconds: +(wallMs / 1000).toFixed(1), msPerDevice: +total.toFixed(3), execArgv: process.execArgv }));
  for (const row of rows) console.log(JSON.stringify(row));
  console.log(JSON.stringify({ packetsPerDevice: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, +(v / N).toFixed(2)])) }));
  await Promise.all(agents.map((a) => a.stop()));
  await perfExited;
  if (process.env.WF_AB_SYSCALLS) {
    const calls = Object.fromEntries(perfOut.split('\n').filter((l) => l.includes('sys_enter_')).map((l) => [l.split(',')[2]!.replace('syscalls:sys_enter_', ''), +(Number(l.split(',')[0]) / N).toFixed(2)]));
    console.log(JSON.stringify({ syscallsPerDeviceOverWave: calls }));
  }
} finally {
  broker.stdin!.end();
  broker.kill();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
