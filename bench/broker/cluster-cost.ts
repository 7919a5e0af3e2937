/**
 * The price of the shared engine (docs/scale-out.md): our broker as one cluster node on a real
 * redis-server (mqemitter-redis carries every publish through Redis pub/sub and back;
 * subscriptions in aedes-persistence-redis) against the same broker embedded (in-memory engines),
 * under the broker-efficiency load (efficiency.ts' round), each broker in its own process. Rounds
 * alternate between the two; median of the rounds. Redis' own CPU (INFO cpu) is counted in a row
 * of its own, since a node's CPU alone hides the work it hands to Redis.
 */
import { startRedis } from '../../test/helpers/redis.js';
import { figure, median, type BenchFigure } from '../figure.js';
import { startBrokerChild, type BrokerChild } from './broker-child.js';
import { loadLabel, round, ROUNDS, type RoundResult } from './efficiency.js';

interface ClusterRound extends RoundResult {
  /** redis-server's CPU over the round; 0 for the embedded broker. */
  readonly redisCpuSeconds: number;
}

const redisCpuSeconds = (info: string): number => {
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
};

export async function benchClusterCost(): Promise<BenchFigure[]> {
  const redis = await startRedis(undefined);
  const children: Record<'embedded' | 'cluster', BrokerChild | undefined> = { embedded: undefined, cluster: undefined };
  const results: Record<'embedded' | 'cluster', ClusterRound[]> = { embedded: [], cluster: [] };
  try {
    children.embedded = await startBrokerChild('ours');
    children.cluster = await startBrokerChild('cluster', { redis: redis.url });
    const measure = async (kind: 'embedded' | 'cluster'): Promise<ClusterRound> => {
      const before = kind === 'cluster' ? redisCpuSeconds(redis.cli('INFO', 'cpu')) : 0;
      const result = await round(children[kind]!);
      return { ...result, redisCpuSeconds: kind === 'cluster' ? redisCpuSeconds(redis.cli('INFO', 'cpu')) - before : 0 };
    };
    // One warm-up round each (JIT, connection set-up), not counted.
    for (const kind of ['embedded', 'cluster'] as const) await measure(kind);
    for (let i = 0; i < ROUNDS; i += 1) {
      for (const kind of ['embedded', 'cluster'] as const) results[kind].push(await measure(kind));
    }
  } finally {
    await Promise.all([children.embedded?.stop(), children.cluster?.stop()]);
    await redis.dispose();
  }
  const perCpu = (kind: 'embedded' | 'cluster', withRedis = false) =>
    median(results[kind].map((r) => r.messages / (r.cpuSeconds + (withRedis ? r.redisCpuSeconds : 0))));
  const perWall = (kind: 'embedded' | 'cluster') => median(results[kind].map((r) => r.messages / r.wallSeconds));
  const load = `${loadLabel()}; median of ${ROUNDS} alternating rounds`;
  return [
    figure({
      bench: 'cluster-cost/per-cpu-second',
      subject: 'our broker as one cluster node on Redis (emitter and persistence in Redis), own process',
      baseline: 'the same broker embedded (in-memory engines), own process',
      unit: 'messages delivered per broker CPU-s',
      subjectValue: perCpu('cluster'),
      baselineValue: perCpu('embedded'),
      note: `higher is better; the node's CPU only (utime + stime from /proc/<pid>/stat); ${load}`,
    }),
    figure({
      bench: 'cluster-cost/per-cpu-second-with-redis',
      subject: "cluster node + redis-server, same load",
      baseline: 'the same broker embedded, same load',
      unit: 'messages delivered per CPU-s (node + Redis)',
      subjectValue: perCpu('cluster', true),
      baselineValue: perCpu('embedded'),
      note: "higher is better; Redis' CPU from INFO cpu (used_cpu_user + used_cpu_sys) over each round",
    }),
    figure({
      bench: 'cluster-cost/throughput',
      subject: 'cluster node on Redis, same load',
      baseline: 'the same broker embedded, same load',
      unit: 'messages delivered/s',
      subjectValue: perWall('cluster'),
      baselineValue: perWall('embedded'),
      note: 'higher is better; clients share one bench process, so its CPU bounds both',
    }),
  ];
}
