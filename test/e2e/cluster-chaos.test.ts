/**
 * Chaos on the cluster (docs/scale-out.md) as real processes (cluster-helpers.ts): a real
 * redis-server, two `wasmfleet broker --redis` nodes, `wasmfleet api --redis` listing both, and
 * four agents whose configs list both nodes (two of them node B first), running the asc-compiled
 * ema module. For a bounded number of rounds, in the middle of the rollout and of the result
 * streams, one of the nodes, the API or an agent is stopped, with `kill -9` or SIGTERM, and
 * started again in place after a moment. Only one process is down at a time, so the agents always
 * have a node to go to.
 *
 * Then the invariants: a process sent SIGTERM once started exits by itself, cleanly; no process
 * dies unasked; the rollout converges (every device in sync, the module running); and per device
 * every result seq of every run is stored exactly once or counted as dropped under a reason
 * (0 gaps, 0 duplicates), after the same wait for resent backlogs as chaos.test.ts.
 *
 * The random choices come from a seed printed as a diagnostic (CHAOS_SEED=S replays a run); 4
 * rounds in `npm test`, WF_CHAOS_ROUNDS=N runs N. Timings are loose on purpose: nothing is timed.
 */
import { test } from 'node:test';
import { runCliJson } from '../helpers/cli.js';
import { redisSkipReason } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { Cluster, nodePortsOf, type NodeIndex } from './cluster-helpers.js';
import { agentVictims, CHAOS_ROUNDS, chaosRounds, type ChaosVictim } from './fault-helpers.js';

const DEVICES = ['gw-x1', 'gw-x2', 'gw-x3', 'gw-x4'];
/**
 * A dead node's wills are published after three missed heartbeats: at 2 s that happens within a
 * round or two, so the stale-will path runs under the chaos too (the default is 60 s).
 */
const HEARTBEAT_MS = 2_000;

test(`cluster chaos: ${CHAOS_ROUNDS} rounds of kill -9 or SIGTERM on a broker node, the API or an agent mid-rollout and mid-stream; the rollout converges and every seq is accounted for`, { skip: redisSkipReason() }, async (t) => {
  const cluster = await Cluster.start(t, { heartbeatMs: HEARTBEAT_MS });
  for (const [index, id] of DEVICES.entries()) await cluster.addDevice(id, index % 2 === 1);
  await cluster.publishEma();
  for (const id of DEVICES) cluster.startAgent(id);
  await waitFor('every agent connected to a node', () => (DEVICES.every((id) => nodePortsOf(cluster.lastRun(id)).length > 0) ? true : undefined), 60_000, 250);
  // The rollout starts and the chaos begins while it is under way.
  await runCliJson(['deploy', 'ema@1.0.0', ...DEVICES.flatMap((id) => ['--device', id]), '--config', 'every=1', '--input', 'temperature', '--immediate'], cluster.env);

  const node = (index: NodeIndex): ChaosVictim => ({
    id: `node-${index}`,
    what: `broker node ${index}`,
    running: () => cluster.nodes[index],
    forget: () => (cluster.nodes[index] = undefined),
    restart: () => cluster.startNode(index),
  });
  await chaosRounds(t, cluster, DEVICES, [
    node(0),
    node(1),
    { id: 'api', what: 'the API', running: () => cluster.api, forget: () => (cluster.api = undefined), restart: () => cluster.startApi() },
    ...agentVictims(cluster, DEVICES, (id) => cluster.startAgent(id)),
  ]);
});
