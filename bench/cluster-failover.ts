/**
 * Failover (docs/scale-out.md): a device on node A when A dies. Real processes: redis-server, two
 * `wasmfleet broker --redis` nodes, `wasmfleet api`, one `wasmfleet agent` whose config lists both
 * nodes with the default reconnect backoff, ema deployed and results flowing. Each round kills the
 * node the agent is on (SIGKILL) and times, from the kill:
 * - the agent connected to the other node (its `connected to broker node` log line);
 * - its next result stored (a seq above the highest stored before the kill, read from SQLite).
 * Baseline: the wait the agent's own backoff drew in the same round (kill → the `reconnecting`
 * log line of the attempt that succeeded), so the ratio is what failing over adds to it.
 * Log lines are timestamped when they reach the bench process, not by their `time` field (ms).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fromRoot } from '../common/paths.js';
import { DEFAULT_RECONNECT_PERIOD_MS } from '../device-agent/config.js';
import { runCliJson, startCli, type RunningCli } from '../test/helpers/cli.js';
import { freePort, startRedis } from '../test/helpers/redis.js';
import { waitFor } from '../test/helpers/wait.js';
import { figure, median, type BenchFigure } from './figure.js';

const ROUNDS = Number(process.env.WF_BENCH_FAILOVER_ROUNDS ?? 7);
const DEVICE = 'gw-failover';

interface TimedLine {
  readonly at: number;
  readonly line: Record<string, unknown>;
}

/** Every JSON log line of a process with the time it arrived here. */
function timedLines(process: RunningCli): TimedLine[] {
  const lines: TimedLine[] = [];
  let partial = '';
  const onData = (chunk: Buffer) => {
    const at = performance.now();
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop()!;
    for (const text of parts) {
      if (!text.startsWith('{')) continue;
      try {
        lines.push({ at, line: JSON.parse(text) as Record<string, unknown> });
      } catch {
        // a line that is not ours (a warning printed by node)
      }
    }
  };
  process.child.stdout!.on('data', onData);
  process.child.stderr!.on('data', onData);
  return lines;
}

interface Round {
  readonly connectedMs: number;
  readonly storedMs: number;
  readonly backoffMs: number;
}

export async function benchClusterFailover(): Promise<BenchFigure[]> {
  const redis = await startRedis(undefined);
  const dir = mkdtempSync(join(tmpdir(), 'wf-bench-failover-'));
  const ports = [await freePort(), await freePort()] as const;
  const urls = ports.map((port) => `mqtt://127.0.0.1:${port}`);
  const nodes: (RunningCli | undefined)[] = [undefined, undefined];
  let api: RunningCli | undefined;
  let agent: RunningCli | undefined;
  const startNode = async (index: 0 | 1) => {
    const node = startCli(['broker', '--data', join(dir, `node-${index}`), '--mqtt-port', String(ports[index]), '--redis', redis.url, '--json'], { WASMFLEET_LOG_LEVEL: 'warn' });
    nodes[index] = node;
    await waitFor(`node ${index} to start`, () => (node.output().includes('"mqtt"') ? true : undefined), 30_000, 50);
  };
  try {
    await startNode(0);
    await startNode(1);
    const dataDir = join(dir, 'data');
    const httpPort = await freePort();
    api = startCli(['api', '--data', dataDir, '--http-port', String(httpPort), '--redis', redis.url, ...urls.flatMap((url) => ['--mqtt-url', url, '--public-mqtt-url', url]), '--json'], { WASMFLEET_LOG_LEVEL: 'warn' });
    const started = api;
    await waitFor('the api to start', () => (started.output().includes('"adminTokenFile"') ? true : undefined), 30_000);
    const env = {
      WASMFLEET_API: `http://127.0.0.1:${httpPort}`,
      WASMFLEET_TOKEN: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim(),
      WASMFLEET_PUBLISHER_KEY: join(dataDir, 'keys', 'publisher.key'),
    };
    const configPath = join(dir, `${DEVICE}.json`);
    await runCliJson(['device', 'add', DEVICE, '--profile', 'sim-x86-64', '--agent-config', configPath], env);
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { reconnectPeriodMs?: number };
    const backoffWindowMs = config.reconnectPeriodMs ?? DEFAULT_RECONNECT_PERIOD_MS;
    await runCliJson(['module', 'publish', fromRoot('modules-as', 'examples', 'ema')], env);
    agent = startCli(['agent', '--config', configPath], { WASMFLEET_LOG_LEVEL: 'info' });
    const lines = timedLines(agent);
    const connects = () => lines.filter((l) => l.line.msg === 'connected to broker node');
    await waitFor('the agent connected', () => (connects().length > 0 ? true : undefined), 30_000, 50);
    await runCliJson(['deploy', 'ema@1.0.0', '--device', DEVICE, '--config', 'every=1', '--input', 'temperature', '--immediate', '--wait', '--timeout', '90'], env);

    const db = new Database(join(dataDir, 'fleet.db'), { readonly: true, fileMustExist: true });
    const lastSeq = () => (db.prepare('SELECT MAX(seq) FROM result_batches WHERE device_id = ?').pluck().get(DEVICE) as number | null) ?? -1;
    await waitFor('results flowing', () => (lastSeq() >= 3 ? true : undefined), 60_000, 100);

    const rounds: Round[] = [];
    try {
      for (let i = 0; i < ROUNDS; i += 1) {
        const connectedBefore = connects().length;
        const victim = ports.indexOf(Number(connects().at(-1)!.line.port)) as 0 | 1;
        const seqBefore = lastSeq();
        const killedAt = performance.now();
        nodes[victim]!.child.kill('SIGKILL');
        await nodes[victim]!.exited;
        const connected = await waitFor('the agent on the other node', () => connects()[connectedBefore], 60_000, 5);
        await waitFor('the next result stored', () => (lastSeq() > seqBefore ? true : undefined), 60_000, 5);
        const storedAt = performance.now();
        const attempt = lines.filter((l) => l.line.msg === 'reconnecting' && l.at > killedAt && l.at <= connected.at).at(-1);
        if (!attempt) throw new Error('the agent reconnected without logging its attempt');
        rounds.push({ connectedMs: connected.at - killedAt, storedMs: storedAt - killedAt, backoffMs: attempt.at - killedAt });
        await startNode(victim);
      }
    } finally {
      db.close();
    }
    const m = (pick: (r: Round) => number) => median(rounds.map(pick));
    const each = rounds.map((r) => `${Math.round(r.connectedMs)}/${Math.round(r.storedMs)}/${Math.round(r.backoffMs)}`).join(', ');
    const baseline = `the agent's own backoff wait in the same round (kill → its successful attempt; full jitter in [0, ${backoffWindowMs} ms))`;
    return [
      figure({
        bench: 'cluster-failover/reconnect',
        subject: 'node killed (SIGKILL) → the agent connected to the other node',
        baseline,
        unit: 'ms (median)',
        subjectValue: m((r) => r.connectedMs),
        baselineValue: m((r) => r.backoffMs),
        note: `lower is better; ratio − 1 = what failing over adds to the drawn backoff; ${ROUNDS} rounds, connected/stored/backoff ms each: ${each}`,
      }),
      figure({
        bench: 'cluster-failover/first-result',
        subject: 'node killed → the next result stored by the API (through the surviving node)',
        baseline,
        unit: 'ms (median)',
        subjectValue: m((r) => r.storedMs),
        baselineValue: m((r) => r.backoffMs),
        note: "lower is better; includes the agent's 250 ms batch interval (sim-x86-64) and, when the API's link was on the killed node, its own failover",
      }),
    ];
  } finally {
    await agent?.stop();
    await api?.stop();
    await Promise.all(nodes.map((node) => node?.stop()));
    await redis.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}
