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
import { benchClusterCost } from './broker/cluster-cost.js';
import { benchClusterFailover } from './cluster-failover.js';
import { benchAggregateQuery } from './aggregate-query.js';
import { benchSseFanout } from './sse-fanout.js';
import { benchCustodyReceive } from './custody-receive.js';
import { benchDevLoop } from './dev-loop.js';
import { benchSoak, lastSoakSection } from './soak/soak.js';
import { benchHubFanout } from './hub/fanout.js';
import { benchHubBacklog } from './hub/backlog.js';
import { benchIdleConnections } from './idle-connections.js';
import { benchRollout10k } from './rollout-10k.js';
import { benchIngestUnderQuery } from './ingest-under-query.js';
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
      'Inventory: provision-10000 runs the real CLI (`wasmfleet device import` of a 10,000-row CSV with --agent-config-dir) against a real platform, timed from spawn to exit; list-p99 fills the inventory to 100,000 devices through POST /devices/batch and drives the tag-filtered first page with 50 requests in flight (keep-alive node:http from a load generator in a child process, bench/http-load-child.ts), against a bare Fastify route serving the same JSON from the same process, loaded the same way; the note adds each side\'s latency inside the server (request parsed to response finished), its CPU per request (also the list-cpu row), event-loop delay and GC pauses during the load.',
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
      'Reconnect storm: 10,000 raw TCP clients send a pre-encoded CONNECT, paced as agents that lost their node at the same instant reconnect: each first attempt after a full-jitter delay in [0, 2 s), a reset or CONNACK 3 retried after the next delay of the same backoff (device-agent/reconnect-backoff.ts, default bounds); WF_BENCH_STORM_PACING=burst opens them as fast as the bench process can instead, with no retry (WF_BENCH_STORM_DEVICES to change N). The node runs in its own process with connection rate limits off, authenticating each from the Redis credential replica (one HGETALL + one HMAC-SHA-256); bare Aedes has no authentication and no Redis. The notes say how connections not admitted ended; WF_BENCH_STORM_PROFILE=DIR leaves a CPU profile of the node over the measured span.',
    ],
  },
  {
    name: 'cluster-cost',
    title: 'the price of Redis (one cluster node on Redis vs the same broker embedded)',
    run: benchClusterCost,
    optIn: true,
    notes: [
      "Cluster cost: the broker-efficiency load (10 QoS 1 publishers, one subscriber on +/results) against our broker as one `--redis` node on a real redis-server and against the same broker embedded, each in its own process, rounds alternating, median of 5 after one warm-up round each. A publish through a node goes to Redis (mqemitter-redis PUBLISH) and comes back through its subscription before delivery, so the rows say what one node pays for being part of a tier; the with-redis row adds redis-server's own CPU (INFO cpu).",
    ],
  },
  {
    name: 'cluster-failover',
    title: 'failover (a device on node A when A is killed)',
    run: benchClusterFailover,
    optIn: true,
    notes: [
      "Failover: real processes (redis-server, two `wasmfleet broker --redis` nodes, `wasmfleet api`, one `wasmfleet agent` with the config `device add --agent-config` writes, both nodes listed, default reconnect backoff: full jitter in [0, 2 s)), ema deployed and results flowing. Each round kills the node the agent is on with SIGKILL and times, from the kill, the agent's log line `connected to broker node` for the other node and the first result stored in SQLite with a higher seq than before the kill; the baseline is the wait the agent's backoff drew in that round (kill → its reconnect attempt that succeeded, from its `reconnecting` log line), so the ratio says what failing over adds to the backoff the agent was configured to wait. The killed node is started again before the next round; median of the rounds.",
    ],
  },
  {
    name: 'aggregate-query',
    title: 'fleet-wide aggregate query (hour rollups vs raw scan)',
    run: benchAggregateQuery,
    optIn: true,
    notes: [
      'Aggregate query: GET /api/v1/results/aggregate\'s store work (device selection + grouped query) for avg per hour grouped by tag:line over all devices, against a raw scan of the same points computing the same answer (every bucket compared). The history (one batch per device and hour) is written straight into the store\'s SQLite file by bench/aggregate-fill.ts: points, batches, minute and hour rollups and their day rows, row for row what ingest leaves, which each run first checks against the real ingest path on 3 devices × 3 hours. Avg per hour reads the day rows (fleet-api/store/rollup-days.ts: 15,000 rows for 30 days instead of 360,000 hour rows, which SQLite had to sort to group). WF_BENCH_AGG_DAYS=N scales the data (default 30 days, ~21.6 M points, about 2 CPU-minutes to write and ~4.5 GB of temp disk).',
    ],
  },
  {
    name: 'sse-fanout',
    title: 'live events: server CPU per event with 200 SSE streams',
    run: benchSseFanout,
    notes: [
      'SSE fan-out: 1,000 simulated devices report one result batch each per round through the real ingest path (SQLite commit, rollups, one event per batch); CPU of the whole process per event published, with 200 SSE streams on loopback (raw sockets that discard what they read) against none. Each event is serialised once at publish; a stream gathers the frames published in one event-loop turn and sends them in one write (was one write per event per stream: 988 µs/event, 9.95×, before).',
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
    name: 'hub-fanout',
    title: 'hub fan-out: one rollout to 10 sites × 50 devices via hubs vs directly (real processes)',
    run: () => benchHubFanout(),
    optIn: true,
    notes: [
      "Hub fan-out: one unthrottled ema rollout to 500 real agents (5 processes of 100, rollout-scale's light profile), (a) behind 10 hub processes of 50 (bench/hub/hub-child.ts: what `wasmfleet hub --config` runs), against (b) the same 500 connected to central directly; each arm on a fresh `wasmfleet server`. Every connection to the centre goes through a TCP proxy in the bench process that counts the bytes the central broker writes on it and parses them as MQTT to count module and desired-state PUBLISH packets (the API's own broker link is not proxied, not counted); the window runs from the POST to every device healthy. WF_BENCH_HUB_SITES and WF_BENCH_HUB_DEVICES_PER_SITE change the shape.",
    ],
  },
  {
    name: 'hub-backlog',
    title: "hub backlog flush: 120,000 batches from a hub's custody into SQLite vs the agents' own spool flush",
    run: () => benchHubBacklog(),
    optIn: true,
    notes: [
      "Hub backlog: a `wasmfleet server`, one hub process (bench/hub/hub-child.ts) whose uplink runs through a TCP proxy the bench cuts, and 50 real agents behind it in one process. Default mode: each agent starts with 2,400 batches of 25 points in its spool and flushes them into the hub's custody with the uplink cut (50 × 4 batches/s × 10 min = 120,000); the uplink is restored and the time runs until SQLite holds all of them. Baseline, same run and server: 50 more agents with the same spools, connected to central directly through a proxy cut while they start, timed from its restore. WF_BENCH_HUB_BACKLOG_CUT_MINUTES=10 is the full mode: ema on every batch (4/s per agent) and a real 10-minute cut, timed until the hub's custody is empty. WF_BENCH_HUB_BACKLOG_DEVICES and WF_BENCH_HUB_BACKLOG_BATCHES shrink the default mode.",
    ],
  },
  {
    name: 'idle-connections',
    title: 'idle connections on one broker node (50,000 devices, ours vs bare Aedes)',
    run: () => benchIdleConnections(),
    optIn: true,
    notes: [
      'Idle connections: WF_BENCH_IDLE_CONNECTIONS devices (default 50,000) provisioned through POST /devices/batch, then held idle (raw sockets, one CONNECT each, keepalive 1 h, at most 10,000 per loopback source address from 127.0.0.2) by one client process against each broker in its own process: ours admitting them from the SQLite file as `wasmfleet broker` does (connection-rate limits off), bare Aedes admitting anyone. Memory is RSS after a full GC (--expose-gc) with all connected and idle, minus the same before the first connection, per connection. Both children run under prlimit with N + 2,048 open files; where the hard limit cannot be raised (no CAP_SYS_RESOURCE; 20,000 here) N is cut to fit and the whole RSS at the asked N is projected from the per-connection figure.',
    ],
  },
  {
    name: 'rollout-10k',
    title: 'rollout of 10,000 simulated devices (broker in its own process, API CPU and SQLite time per device)',
    run: () => benchRollout10k(),
    optIn: true,
    notes: [
      "Rollout 10k: WF_BENCH_ROLLOUT_DEVICES real agents (default 10,000) in WF_BENCH_ROLLOUT_PROCESSES processes (default 10; metered sandbox, one 0.5 Hz source, one batch a minute, heartbeat every 10 s, module fetch timeout 120 s since a thousand simulated devices share one thread), provisioned through POST /devices/batch; the connect wave is set-up, paced by the broker's answers (each process keeps at most 20 agents connecting and starts at most 50 a second) and the POST waits until every device is online and has reported. The broker runs in its own process (SQLite credentials as `wasmfleet broker`, connection-rate limits off) and the API alone in the bench process, so the API's CPU is that process's over the rollout and its SQLite write time is metered on better-sqlite3 (outermost transactions and lone statements, wall time); broker and agents' CPU from /proc; load average is the 1-minute one, the higher of start and end. Timed from the POST (unthrottled) to every device counted healthy (running, no soak), polled on the deployment list's counts every 250 ms. WF_BENCH_ROLLOUT_PROFILE=DIR leaves CPU profiles of the API and the broker over the rollout and puts their top functions by self time in the note. The API's link uses the platform's fixed client id (a persistent session). A timeline (healthy, pending, online; cores of each part; event-loop delays; the link's messages, connects and re-syncs) goes to stderr once a second, and the note gives the longest stall.",
    ],
  },
  {
    name: 'ingest-under-query',
    title: 'ingest from 1,000 devices while 20 clients query results (vs raw better-sqlite3 inserts)',
    run: benchIngestUnderQuery,
    notes: [
      'Ingest under query: 1,000 devices (mqtt.js, one child process, 50 loopback source addresses, broker limits at their defaults) each keep 8 ResultBatches of 50 points awaiting the API\'s ack (sent after commit), so the rate is what broker, ingestion and SQLite sustain; 20 clients in another child process GET /devices/:id/results?limit=100 for random devices back to back. Both for 20 s after a 3 s warm-up; the platform (startPlatform) runs alone in the bench process. Baseline: one prepared INSERT of as many rows into a fresh store\'s results table (same schema and indexes), 1,000 rows to a transaction. WF_BENCH_INGEST_DEVICES and WF_BENCH_INGEST_MS shrink it; WF_BENCH_INGEST_PROFILE=DIR leaves a CPU profile of the platform over the measured span and puts its top functions in the note.',
    ],
  },
  {
    name: 'soak',
    title: 'soak (200 agents for 30 minutes: RSS, heap and event-loop delay every minute)',
    run: benchSoak,
    optIn: true,
    section: () => lastSoakSection,
    notes: [
      'Soak: WF_SOAK_AGENTS real agents (default 200; WF_SOAK_AGENTS_PER_PROCESS to a process, default 20, each agent its own state directory, ema deployed, one result a second each) against the one-process server in its own process for WF_SOAK_MINUTES (default 30). Every minute each process runs a full GC (WF_SOAK_GC=0: not), so memory is what is live, and reports its RSS, JS heap used and reserved, external memory and ArrayBuffers (process.memoryUsage()) and event-loop delay (perf_hooks.monitorEventLoopDelay, reset each minute); the RSS and heap rows are the least-squares slope per minute against the mean, flat when within two standard errors of zero (soak/agents-heap\'s note adds the external, ArrayBuffers and outside-both slopes), each fitted over the whole run and, in the `-steady` rows, after a warm-up window fixed before the run (WF_SOAK_WARMUP_MINUTES, a third of it by default; the goal is judged there, the whole-run row shows any warm-up step). The agents processes run with the agent\'s shipped Node flags and environment (bundle/launch.ts). The per-minute table is the section below the notes, with the machine\'s 1-minute load average at each sample: the machine is shared, and a loaded one makes the slopes noisier. bench/soak/README.md says what the soak found (the spool index, fixed) and how to chase a growth with heap snapshots.',
    ],
  },
];
