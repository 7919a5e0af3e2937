/**
 * Every benchmark suite, in the order `npm run bench` runs them. A suite's figures are named
 * `<suite>/<row>` (or just `<suite>`), which is how a partial run finds the rows it replaces in
 * RESULTS.md. A suite with `optIn` runs only when named or with --all (long or heavy ones).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchModuleThroughput } from './module-throughput.js';
import { benchDeployLatency } from './deploy-latency.js';
import { benchSandboxLifecycle } from './sandbox-lifecycle.js';
import { benchFootprint } from './footprint.js';
import { benchBundleSize } from './bundle-size.js';
import { benchSpoolFlush } from './spool-flush.js';
import { benchRolloutScale } from './rollout-scale.js';
import { benchAggregateQuery } from './aggregate-query.js';
import { benchSseFanout } from './sse-fanout.js';
import type { BenchFigure } from './figure.js';

export interface BenchSuite {
  readonly name: string;
  /** What stderr says while it runs. */
  readonly title: string;
  readonly run: () => Promise<BenchFigure[]>;
  /** Bullet points for RESULTS.md's notes. */
  readonly notes: readonly string[];
  readonly optIn?: boolean;
}

async function moduleThroughput(): Promise<BenchFigure[]> {
  // A cross-thread benchmark measures the scheduler as much as the code when other work loads the
  // machine. WF_BENCH_FIFO=1 runs this one (a single process: one main thread, one worker at a
  // time, no child processes) under SCHED_FIFO; never the agent benchmarks, whose many threads
  // would spin against each other at real-time priority.
  if (process.env.WF_BENCH_FIFO !== '1') return benchModuleThroughput();
  const script = fileURLToPath(new URL('./module-throughput.js', import.meta.url));
  return JSON.parse(execFileSync('chrt', ['-f', '10', process.execPath, script], { encoding: 'utf8' })) as BenchFigure[];
}

export const SUITES: readonly BenchSuite[] = [
  {
    name: 'module-throughput',
    title: 'module throughput (sandbox host path vs plain JS)',
    run: moduleThroughput,
    notes: [
      "Throughput rows: `module-throughput/<name>` runs each batch of 1,024 samples through the agent's default metered sandbox (module on the agent's thread, checkpoints compiled in: copy in, wf_process, group the records in place), each awaited; `worker-<name>` through a sandbox worker with up to 4 batches in flight (how the agent drains a backlog), so there the slower of the two threads sets the pace. Both stream 32 MiB of batches, so the copy in reads memory the JS baseline reads too.",
      "ema-metering-cost is what the checkpoints cost EMA's kernel; ema-host-path is the metered host path (arm the deadline, copy in, call, copy the records out to host memory); ema-in-process-path adds grouping the records into BatchOutput objects ([t, v] pairs), which costs about as much as the kernel; ema-host-overhead is one awaited round trip through a worker.",
    ],
  },
  {
    name: 'sandbox-lifecycle',
    title: 'sandbox lifecycle (instantiate, watchdog)',
    run: benchSandboxLifecycle,
    notes: [
      'Instantiate: a metered start after the first finds the rewritten, compiled module in its cache (by sha256); instantiate-unseen is a module the agent never ran (rewrite + compile); the worker start takes the booted spare worker (agent config spareWorker, default true), and one with no spare ready pays the worker boot (~45 ms).',
    ],
  },
  {
    name: 'footprint',
    title: 'agent footprint (bundle size, idle memory)',
    run: benchFootprint,
    notes: [
      "Footprint: the default metered sandbox runs modules on the agent's thread, so three modules cost their memories and code; with isolation: worker each costs a Node worker isolate (~9 MiB resident).",
    ],
  },
  { name: 'bundle-size', title: 'flashed size (bundle, with each Node runtime, packed)', run: benchBundleSize, notes: [] },
  { name: 'deploy-latency', title: 'deployment latency (3 agent processes)', run: benchDeployLatency, notes: [] },
  {
    name: 'spool-flush',
    title: 'spool flush and restart from cache (agent processes)',
    run: benchSpoolFlush,
    notes: [
      'Spool flush: the agent process starts with 50,000 results in its spool and sends them as SpooledResults (up to 1,000 per publish) under a 5,000-result ack window; timed until SQLite holds all of them. The live baseline is one pipelined QoS 1 publish per result from a client in the bench process.',
      'Restart from cache: the bundled agent (the gateway build) with its broker unreachable; the first result is the first record appended to its spool.',
    ],
  },
  {
    name: 'rollout-scale',
    title: 'rollout scale (1,000 simulated devices in 4 agent processes)',
    run: benchRolloutScale,
    notes: [
      "Rollout scale: 1,000 real agents (4 processes, the default metered sandbox: modules on the agents' thread with their CPU budget compiled in; one 2 Hz source each) with the broker connection-rate limits off; the time runs from the POST to every device reported running (healthy with no soak), and the note gives the devices/minute it implies.",
    ],
  },
  {
    name: 'aggregate-query',
    title: 'fleet-wide aggregate query (hour rollups vs raw scan)',
    run: benchAggregateQuery,
    optIn: true,
    notes: [
      'Aggregate query: GET /api/v1/results/aggregate\'s store work (device selection + grouped query) for avg per hour grouped by tag:line over all devices, against a raw scan of the same points computing the same answer. The points go in through the real ingest transaction (which writes the minute and hour rollups), one batch per device and hour. WF_BENCH_AGG_DAYS=N scales the data (default 30 days, ~21.6 M points, several minutes and ~3 GB of temp disk).',
    ],
  },
  {
    name: 'sse-fanout',
    title: 'live events: server CPU per event with 200 SSE streams',
    run: benchSseFanout,
    notes: [
      'SSE fan-out: 1,000 simulated devices report one result batch each per round through the real ingest path (SQLite commit, rollups, one event per batch); CPU of the whole process per event published, with 200 SSE streams on loopback (raw sockets that discard what they read) against none. Each event is serialised once at publish; a stream writes the shared frame.',
    ],
  },
];
