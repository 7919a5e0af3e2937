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
import { benchFairIngest } from './fair-ingest.js';
import { benchBrokerEfficiency } from './broker/efficiency.js';
import { benchConsoleFleet } from './console-fleet.js';
import { benchInventory } from './inventory.js';
import { benchReconnectStorm } from './reconnect-storm.js';
import { benchAggregateQuery } from './aggregate-query.js';
import { benchSseFanout } from './sse-fanout.js';
import { benchCustodyReceive } from './custody-receive.js';
import { benchDevLoop } from './dev-loop.js';
import { benchSoak, lastSoakSection } from './soak/soak.js';
import type { BenchFigure } from './figure.js';

export interface BenchSuite {
  readonly name: string;
  /** What stderr says while it runs. */
  readonly title: string;
  readonly run: () => Promise<BenchFigure[]>;
  /** Bullet points for RESULTS.md's notes. */
  readonly notes: readonly string[];
  readonly optIn?: boolean;
  /** A section of its own below the notes (markdown from its `## ` heading), after `run`. */
  readonly section?: () => string | undefined;
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
    name: 'dev-loop',
    title: 'module dev: save → first result on the device (one agent process)',
    run: benchDevLoop,
    optIn: true,
    notes: [
      'dev-loop: one `module dev` process against a real platform and one agent process; each save rewrites assembly/index.ts and is timed to the first `result` line of the new dev version on the loop\'s output. The baseline does the same cycle by hand with separate CLI processes (each pays a Node start and a CLI load), on the same platform and agent in the same run.',
    ],
  },
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
    name: 'fair-ingest',
    title: 'fair ingestion (8 devices’ result latency while one flushes a backlog)',
    run: benchFairIngest,
    notes: [
      "Fair ingestion: 8 probe devices each publish one live ResultBatch every 100 ms and time publish → the API's ack (committed to SQLite); the subject is the same while one agent process flushes 20,000 spooled batches of 20 points. The API serves per-device queues round-robin, at most 1,000 rows (100 batches) of each device per transaction, so the backlog adds at most about one such turn to the others (docs/operations.md §Fair ingestion). Latency includes the 50 ms flush and 100 ms ack coalescing.",
    ],
  },
  {
    name: 'broker-efficiency',
    title: 'broker efficiency (our broker vs bare Aedes, each in its own process)',
    run: benchBrokerEfficiency,
    notes: [
      'Broker efficiency: 10 device publishers (QoS 1, 64-byte payloads on their own results topics, 32 unacknowledged each) and one service subscriber on wf/v1/devices/+/results, all in the bench process; each broker runs in a child process and its CPU (utime + stime) is read from /proc/<pid>/stat. Rounds alternate between the brokers; median of 5 after one warm-up round each.',
    ],
  },
  {
    name: 'inventory',
    title: 'inventory at scale (10,000 devices imported, 100,000 listed by page)',
    run: benchInventory,
    notes: [
      'Inventory: provision-10000 runs the real CLI (`wasmfleet device import` of a 10,000-row CSV with --agent-config-dir) against a real platform, timed from spawn to exit; list-p99 fills the inventory to 100,000 devices through POST /devices/batch and drives the tag-filtered first page with 50 requests in flight (keep-alive node:http from a load generator in a child process, bench/http-load-child.ts), against a bare Fastify route serving the same JSON from the same process, loaded the same way; the note adds each server\'s CPU per request.',
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
    name: 'console-fleet',
    title: 'console Fleet page with 100,000 devices (headless Chromium)',
    run: () => benchConsoleFleet(),
    optIn: true,
    notes: [
      'Console: 100,000 devices inserted straight into the platform\'s SQLite; the page runs in /usr/bin/chromium (playwright-core) with the token in sessionStorage. First paint is read in the page (MutationObserver, performance.now() from navigation start) when the counts and the first 50 rows exist; the filter time runs from the input event to a table of only matching rows, the console\'s 50 ms debounce included. Round 0 warms up and is not counted.',
    ],
  },
  {
    name: 'reconnect-storm',
    title: 'reconnect storm (one cluster node on Redis vs bare Aedes)',
    run: benchReconnectStorm,
    optIn: true,
    notes: [
      'Reconnect storm: 10,000 raw TCP clients send a pre-encoded CONNECT as fast as the bench process opens them (WF_BENCH_STORM_DEVICES to change N); the node runs in its own process with connection rate limits off, authenticating each from the Redis credential replica (one HGETALL + one HMAC-SHA-256); bare Aedes has no authentication and no Redis. The notes say how connections not admitted ended; WF_BENCH_STORM_PROFILE=DIR leaves a CPU profile of the node over the measured span.',
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
  {
    name: 'custody-receive',
    title: 'hub result custody: receive → durable vs the agents\' spool append',
    run: benchCustodyReceive,
    notes: [
      'Custody receive: a hub\'s custody (hub/custody) takes result payloads of 50 devices, validates each batch by the API\'s rules, appends them to its log and fdatasyncs before the ack is ready (one fdatasync shared by the receives of one event-loop turn); timed until every batch is acknowledged. Baseline in the same run: the agents\' own spool (one per device) appending the same batches and syncing after as many appends as custody has receives in flight. `results`: 20,000 lone batches, 50 in flight; `spooled`: 50,000 batches in SpooledResults of 500, 4 in flight. Median of 3 rounds.',
    ],
  },
  {
    name: 'soak',
    title: 'soak (200 agents for 30 minutes: RSS and event-loop delay every minute)',
    run: benchSoak,
    optIn: true,
    section: () => lastSoakSection,
    notes: [
      'Soak: WF_SOAK_AGENTS real agents (default 200; WF_SOAK_AGENTS_PER_PROCESS to a process, default 20, each agent its own state directory, ema deployed, one result a second each) against the one-process server in its own process for WF_SOAK_MINUTES (default 30). Every minute each process reports its RSS, heap and event-loop delay (perf_hooks.monitorEventLoopDelay, reset each minute); the RSS rows are the least-squares slope per minute against the mean, flat when within two standard errors of zero. The per-minute table is the section below the notes.',
    ],
  },
];
