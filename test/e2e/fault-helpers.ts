/**
 * Real processes for the fault-injection tests: the `wasmfleet server` (broker + API + SQLite)
 * on fixed free ports so it can be killed and restarted in place, `wasmfleet agent` processes,
 * and the exact accounting every fault test ends with: each result seq an agent produced is
 * either stored once in SQLite or counted as dropped by that agent, and nothing else.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { fromRoot } from '../../common/paths.js';
import type { SpoolReport } from '../../protocol/index.js';
import { runCliJson, startCli, type RunningCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface LogLine {
  msg: string;
  level: string;
  [field: string]: unknown;
}

export function logLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        return undefined;
      }
    })
    .filter((line): line is LogLine => line !== undefined && typeof line.msg === 'string');
}

/** Resolves once the agent's output has a log line whose msg is `msg`. */
export async function untilLogged(run: AgentRun, msg: string, what: string, timeoutMs = 15_000, everyMs?: number): Promise<void> {
  await waitFor(what, () => (logLines(run.process.output()).some((line) => line.msg === msg) ? true : undefined), timeoutMs, everyMs);
}

export interface AgentRun {
  readonly process: RunningCli;
  /** The first seq this run hands out, from its start log. */
  firstSeq(): Promise<number>;
}

export class Fleet {
  readonly dir: string;
  readonly dataDir: string;
  server: RunningCli | undefined;
  readonly agents = new Map<string, AgentRun[]>();
  env: Record<string, string> = {};

  private constructor(
    readonly mqttPort: number,
    readonly httpPort: number,
    dataDir?: string,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'wf-fault-'));
    this.dataDir = dataDir ?? join(this.dir, 'data');
  }

  /** `dataDir`: the server's data directory somewhere else than the fleet's temp dir (e.g. on a tiny disk). */
  static async start(t: TestContext, options: { dataDir?: string } = {}): Promise<Fleet> {
    const fleet = new Fleet(await freePort(), await freePort(), options.dataDir);
    t.after(async () => {
      for (const runs of fleet.agents.values()) await Promise.all(runs.map((run) => run.process.stop()));
      await fleet.server?.stop();
      rmSync(fleet.dir, { recursive: true, force: true });
    });
    await fleet.startServer();
    return fleet;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** One REST call as the admin; a non-2xx answer fails the test with its body. */
  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.apiUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.env.WASMFLEET_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
    return (await response.json()) as T;
  }

  async startServer(): Promise<void> {
    const server = startCli(['server', '--data', this.dataDir, '--mqtt-port', String(this.mqttPort), '--http-port', String(this.httpPort), '--json']);
    this.server = server;
    await waitFor('the server to start', () => (server.output().includes('"adminTokenFile"') ? true : undefined), 30_000);
    const token = readFileSync(join(this.dataDir, 'admin.token'), 'utf8').trim();
    this.env = { WASMFLEET_API: this.apiUrl, WASMFLEET_TOKEN: token, WASMFLEET_PUBLISHER_KEY: join(this.dataDir, 'keys', 'publisher.key') };
  }

  async killServer(): Promise<void> {
    const server = this.server!;
    server.child.kill('SIGKILL');
    await server.exited;
    this.server = undefined;
  }

  async stopServer(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }

  /**
   * Provisions a device (`device add`, plus `cliArgs` such as `['--hub', 'yard']`) whose agent
   * reconnects fast (tests cannot wait a minute per retry), with `agent` over its config; returns
   * what the CLI answered (`--json`).
   */
  async addDevice<T = Record<string, unknown>>(id: string, agent: Record<string, unknown> = {}, cliArgs: readonly string[] = []): Promise<T> {
    const path = join(this.dir, `${id}.json`);
    const added = await runCliJson<T>(['device', 'add', id, '--profile', 'sim-x86-64', ...cliArgs, '--agent-config', path], this.env);
    const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    writeFileSync(path, JSON.stringify({ ...config, reconnectPeriodMs: 200, reconnectMaxMs: 2000, ...agent }, null, 2));
    return added;
  }

  stateDir(id: string): string {
    return (JSON.parse(readFileSync(join(this.dir, `${id}.json`), 'utf8')) as { stateDir: string }).stateDir;
  }

  startAgent(id: string): AgentRun {
    const process = startCli(['agent', '--config', join(this.dir, `${id}.json`)], { WASMFLEET_LOG_LEVEL: 'info' });
    const run: AgentRun = {
      process,
      firstSeq: () =>
        waitFor(`${id}'s start log`, () => logLines(process.output()).find((line) => line.msg === 'results sequence resumes')?.nextSeq as number | undefined, 15_000),
    };
    const runs = this.agents.get(id) ?? [];
    runs.push(run);
    this.agents.set(id, runs);
    return run;
  }

  async publishEma(): Promise<void> {
    await runCliJson(['module', 'publish', fromRoot('modules-as', 'examples', 'ema')], this.env);
  }

  /** ema on every temperature batch: one result batch per 250 ms per device. */
  async deployEma(devices: string[], wait = true): Promise<void> {
    const args = ['deploy', 'ema@1.0.0', ...devices.flatMap((id) => ['--device', id]), '--config', 'every=1', '--input', 'temperature', '--immediate'];
    await runCliJson(wait ? [...args, '--wait', '--timeout', '60'] : args, this.env);
  }

  /**
   * The common start of a fault test: ema published, an agent per device, deployed at once, and
   * at least `minStored` result batches per device in SQLite before the fault is injected.
   */
  async streaming(devices: string[], minStored: number): Promise<AgentRun[]> {
    await this.publishEma();
    const runs = devices.map((id) => this.startAgent(id));
    await this.deployEma(devices);
    await waitFor('results stored', () => (devices.every((id) => this.storedSeqs(id).length >= minStored) ? true : undefined), 30_000);
    return runs;
  }

  /** Reads SQLite directly (WAL lets a reader in beside the running server). */
  private read<T>(query: (db: Database.Database) => T): T {
    const db = new Database(join(this.dataDir, 'fleet.db'), { readonly: true, fileMustExist: true });
    try {
      return query(db);
    } finally {
      db.close();
    }
  }

  storedSeqs(deviceId: string): number[] {
    return this.read((db) => db.prepare('SELECT seq FROM result_batches WHERE device_id = ? ORDER BY seq').pluck().all(deviceId) as number[]);
  }

  reportedSpool(deviceId: string): SpoolReport | undefined {
    const json = this.read((db) => db.prepare('SELECT reported FROM devices WHERE id = ?').pluck().get(deviceId) as string | null);
    return json ? (JSON.parse(json) as { spool?: SpoolReport }).spool : undefined;
  }

  /** Waits until the agent reports an empty spool and SQLite holds at least `minStored` of its results. */
  async settled(deviceId: string, minStored: number, timeoutMs = 60_000): Promise<SpoolReport> {
    return waitFor(
      `${deviceId} to have stored ${minStored}+ results and nothing pending`,
      () => {
        const spool = this.reportedSpool(deviceId);
        return spool && spool.pending === 0 && this.storedSeqs(deviceId).length >= minStored ? spool : undefined;
      },
      timeoutMs,
      250,
    );
  }
}

/** A tmpfs of `bytes` mounted on a fresh directory (root only), unmounted after the test; undefined where mounting is not allowed. */
export function tinyDisk(t: TestContext, bytes: number): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'wf-tinydisk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  t.after(() => {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Fills what is left of the disk holding `dir`: from here every write there fails with ENOSPC. */
export function fillDisk(dir: string): void {
  try {
    writeFileSync(join(dir, 'filler'), Buffer.alloc(64 * 1024 * 1024));
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  }
}

export function dbFile(fleet: Fleet): string {
  return join(fleet.dataDir, 'fleet.db');
}

/**
 * The exact accounting. Each agent run hands out seqs from its first (logged at start) upwards
 * without a gap; the next run starts at a higher block. So within every run, stored ∪ dropped
 * must be one gap-free range starting at the run's first seq, stored and dropped must not
 * overlap, and no seq may be stored outside a run. For the last, cleanly stopped run, the range
 * must end exactly at the seq before its logged `nextSeq`. (SQLite's primary key already makes
 * a duplicate impossible; the API counts resends it ignored.)
 */
export function assertExactAccounting(stored: number[], dropped: [number, number][], runFirstSeqs: number[], lastNextSeq?: number): { stored: number; dropped: number } {
  const droppedSet = new Set<number>();
  for (const [first, last] of dropped) for (let seq = first; seq <= last; seq++) droppedSet.add(seq);
  const storedSet = new Set(stored);
  assert.equal(storedSet.size, stored.length, 'no seq stored twice');
  for (const seq of droppedSet) assert.ok(!storedSet.has(seq), `seq ${seq} is both stored and counted as dropped`);
  const accounted = [...storedSet, ...droppedSet].sort((a, b) => a - b);
  const starts = [...runFirstSeqs].sort((a, b) => a - b);
  for (let run = 0; run < starts.length; run++) {
    const from = starts[run]!;
    const to = run + 1 < starts.length ? starts[run + 1]! : Infinity;
    const inRun = accounted.filter((seq) => seq >= from && seq < to);
    if (inRun.length === 0) continue;
    assert.equal(inRun[0], from, `run ${run} starts at its first seq ${from}`);
    const gaps: number[] = [];
    for (let i = 1; i < inRun.length; i++) if (inRun[i] !== inRun[i - 1]! + 1) gaps.push(inRun[i - 1]! + 1);
    assert.deepEqual(gaps, [], `run ${run} (from seq ${from}): seqs neither stored nor counted as dropped`);
    if (run === starts.length - 1 && lastNextSeq !== undefined) assert.equal(inRun[inRun.length - 1], lastNextSeq - 1, 'the last run accounts up to its last seq');
  }
  assert.ok(accounted.length === 0 || accounted[0]! >= starts[0]!, 'nothing stored before the first run');
  return { stored: storedSet.size, dropped: droppedSet.size };
}

export function stoppedLog(run: AgentRun): LogLine | undefined {
  return logLines(run.process.output()).find((line) => line.msg === 'stopped');
}

/** Each run's first seq; a run killed before it logged one never got far enough to take one. */
export function firstSeqsOf(deviceRuns: AgentRun[]): number[] {
  return deviceRuns
    .map((run) => logLines(run.process.output()).find((line) => line.msg === 'results sequence resumes')?.nextSeq as number | undefined)
    .filter((seq): seq is number => seq !== undefined);
}

/** Seqs missing from `stored` between each run's first seq and the newest stored seq of that run. */
export function storedGaps(stored: number[], firstSeqs: number[]): number {
  const starts = [...firstSeqs].sort((a, b) => a - b);
  let gaps = 0;
  starts.forEach((from, run) => {
    const to = starts[run + 1] ?? Infinity;
    const inRun = stored.filter((seq) => seq >= from && seq < to);
    if (inRun.length > 0) gaps += inRun[inRun.length - 1]! - from + 1 - inRun.length;
  });
  return gaps;
}

/** mulberry32: a small seeded generator, so a chaos run's random choices can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the end-of-test checks read from a fleet or a cluster: its API, each device's agent runs (oldest first) and stored seqs. */
export interface ResultLedger {
  readonly apiUrl: string;
  readonly env: Record<string, string>;
  readonly agents: Map<string, AgentRun[]>;
  storedSeqs(deviceId: string): number[];
}

/** A process the chaos rounds may bring down and start again in place. */
export interface ChaosVictim {
  /** Its name in the rounds' diagnostic (`hub:SIGKILL`). */
  readonly id: string;
  /** How failure messages name it. */
  readonly what: string;
  /** The log line after which it must survive SIGTERM's arrival (bringDown's `startedMsg`). */
  readonly startedMsg?: string;
  /** Its process now; undefined only while it is down. */
  running(): RunningCli | undefined;
  /** Once its process exited: the owner forgets it (so nothing stops it twice). */
  forget?(): void;
  restart(): unknown;
}

/** Each device's newest agent run as a victim, restarted by `startAgent`. */
export function agentVictims(ledger: ResultLedger, devices: readonly string[], startAgent: (id: string) => unknown): ChaosVictim[] {
  return devices.map((id) => ({ id, what: id, startedMsg: 'agent started', running: () => ledger.agents.get(id)!.at(-1)!.process, restart: () => startAgent(id) }));
}

/** Rounds per chaos test: 4 in `npm test`, WF_CHAOS_ROUNDS=N runs N. */
export const CHAOS_ROUNDS = Math.max(1, Number(process.env.WF_CHAOS_ROUNDS ?? 4) || 4);

/**
 * The chaos tests' rounds and invariants. Each round, after a pause, one victim chosen at random
 * is brought down with kill -9 or SIGTERM (bringDown's checks: after SIGTERM it exits by itself,
 * cleanly) and, after another pause, started again in place; one process is down at a time. The
 * choices come from a seed printed as a diagnostic (CHAOS_SEED=S replays a run), the rounds too,
 * even when one fails. Then: the rollout converged (every device in sync with ema running, a
 * result of each newest run stored), resent backlogs stored, no victim died unasked, and the exact
 * accounting per device (stopAndAccount, which stops the agents).
 */
export async function chaosRounds(t: TestContext, ledger: ResultLedger, devices: readonly string[], victims: readonly ChaosVictim[], rounds = CHAOS_ROUNDS): Promise<void> {
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
  const random = seededRandom(seed);
  t.diagnostic(`CHAOS_SEED=${seed}`);
  const pause = (maxMs: number, minMs = 0) => new Promise((resolve) => setTimeout(resolve, minMs + Math.floor(random() * (maxMs - minMs))));
  const history: string[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      await pause(2000, 500);
      const victim = victims[Math.floor(random() * victims.length)]!;
      const signal = random() < 0.5 ? 'SIGKILL' : 'SIGTERM';
      history.push(`${victim.id}:${signal}`);
      const run = victim.running();
      assert.ok(run, `${victim.what} is running before its round`);
      if ((await bringDown(run, signal, victim.what, victim.startedMsg)).beforeStart) history[history.length - 1] += ' (before its start)';
      victim.forget?.();
      await pause(1500);
      await victim.restart();
    }
  } finally {
    t.diagnostic(`rounds: ${history.join(', ')}`);
  }

  // Converged: every device in sync with the module running, and results flowing again.
  await waitFor('every device in sync and running ema', () => everyDeviceRunningEma(ledger, devices), 90_000, 500);
  await untilLastRunsStored(ledger, devices, 60_000);
  await waitForBacklogs(ledger, devices, 60_000);
  for (const victim of victims) assert.ok(stillRunning(victim.running()), `${victim.what} did not die unasked`);
  await stopAndAccount(t, ledger, devices);
}

/** Every device in sync with ema (and only ema) running, as the API reports it; undefined until then. */
export async function everyDeviceRunningEma(ledger: ResultLedger, devices: readonly string[]): Promise<true | undefined> {
  for (const id of devices) {
    const response = await fetch(`${ledger.apiUrl}/api/v1/devices/${id}`, { headers: { authorization: `Bearer ${ledger.env.WASMFLEET_TOKEN}` } });
    const device = (await response.json()) as { inSync?: boolean; reported?: { modules: { name: string; state: string }[] } };
    if (!device.inSync || device.reported?.modules.map((m) => `${m.name}:${m.state}`).join() !== 'ema:running') return undefined;
  }
  return true;
}

/** Waits until each device has a result of its newest agent run stored. */
export async function untilLastRunsStored(ledger: ResultLedger, devices: readonly string[], timeoutMs = 30_000): Promise<void> {
  for (const id of devices) {
    const first = await ledger.agents.get(id)!.at(-1)!.firstSeq();
    await waitFor(`${id}: results of its last run stored`, () => (ledger.storedSeqs(id).some((seq) => seq >= first) ? true : undefined), timeoutMs);
  }
}

/** Batches stored past the newest at the check: about 2 s of results at sim-x86-64's 250 ms batches. */
const LIVE_BATCHES = 8;

/**
 * Waits, before the agents stop, for what faults left unacked to be stored: an agent resends it
 * soon after its connect, or at its ack timeout (15 s). No gap is not enough: batches still
 * waiting for their resend at the tail leave none (CHAOS_SEED=278552: 11 pending on gw-c1 after
 * a server restart), so results published after the check must be stored too, past the newest
 * stored at the check; anything older still unacked is then a gap. Not every wait can end (a
 * dropped seq is never stored): a wait that times out is left to `stopAndAccount`, which names
 * what is missing.
 */
export async function waitForBacklogs(ledger: ResultLedger, devices: readonly string[], timeoutMs = 45_000): Promise<void> {
  for (const id of devices) {
    const newestNow = Math.max(-1, ...ledger.storedSeqs(id));
    const caughtUp = () => {
      const stored = ledger.storedSeqs(id);
      return storedGaps(stored, firstSeqsOf(ledger.agents.get(id)!)) === 0 && Math.max(-1, ...stored) >= newestNow + LIVE_BATCHES ? true : undefined;
    };
    await waitFor(`${id}: backlog stored`, caughtUp, timeoutMs, 250).catch(() => undefined);
  }
}

/**
 * Stops each device's newest agent run (SIGTERM; it must exit 0 with nothing pending in its spool)
 * and checks the exact accounting over all its runs: every seq stored once or counted as dropped,
 * and every dropped seq counted under a reason.
 */
export async function stopAndAccount(t: TestContext, ledger: ResultLedger, devices: readonly string[]): Promise<void> {
  for (const id of devices) {
    const runs = ledger.agents.get(id)!;
    const last = runs.at(-1)!;
    assert.equal(await last.process.stop(), 0, `${id} stops cleanly`);
    const stopped = stoppedLog(last)!;
    const spool = stopped.spool as { pending: number; droppedFull: number; droppedAge: number; lost: number; droppedRanges: [number, number][] };
    assert.equal(spool.pending, 0, `${id}: nothing left unacked in the spool at the stop`);
    const counts = assertExactAccounting(ledger.storedSeqs(id), spool.droppedRanges, firstSeqsOf(runs), stopped.nextSeq as number);
    assert.equal(counts.dropped, spool.droppedFull + spool.droppedAge + spool.lost, `${id}: every loss has a reason`);
    t.diagnostic(`${id}: ${runs.length} run(s), ${counts.stored} stored, ${counts.dropped} dropped`);
  }
}

/** Far past PROCESS_STOP_BOUND_MS (5 s): only a process that hangs on SIGTERM gets here. */
const HANG_MS = 30_000;

/**
 * Ends a process with `signal` and waits for it (the chaos tests). After SIGTERM it must exit by
 * itself with 0; only a process that had not yet logged `startedMsg` when the signal went may
 * instead die of it (node's default action: the agent installs its handler once its start
 * resolves, before it has produced any result; device-agent/main.ts). Says whether that happened.
 */
export async function bringDown(run: RunningCli, signal: 'SIGKILL' | 'SIGTERM', what: string, startedMsg?: string): Promise<{ beforeStart: boolean }> {
  const started = startedMsg === undefined || logLines(run.output()).some((line) => line.msg === startedMsg);
  run.child.kill(signal);
  if (signal === 'SIGKILL') {
    await run.exited;
    return { beforeStart: false };
  }
  const killer = setTimeout(() => run.child.kill('SIGKILL'), HANG_MS);
  const code = await run.exited;
  clearTimeout(killer);
  const diedOfSigterm = code === null && run.child.signalCode === 'SIGTERM';
  if (started || !diedOfSigterm) assert.equal(code, 0, `${what} exits by itself, cleanly, after SIGTERM:\n${run.output().slice(-3000)}`);
  return { beforeStart: diedOfSigterm };
}

/** Not ended, neither by itself nor by a signal: for "no process died unasked". */
export const stillRunning = (run: RunningCli | undefined): boolean => run !== undefined && run.child.exitCode === null && run.child.signalCode === null;
