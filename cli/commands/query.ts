/**
 * `wasmfleet query MODULE`: one metric aggregated across the fleet in time buckets
 * (GET /api/v1/results/aggregate), printed as a table with one column per group, as CSV, or as
 * the API's JSON.
 */
import type { Argv, CommandModule } from 'yargs';
import { clientFor } from '../api-client.js';
import { cliErrors } from '../errors.js';
import type { GlobalArgs } from '../global-options.js';
import { emit, table } from '../output.js';

interface QueryArgs extends GlobalArgs {
  module: string;
  metric: string;
  fn: string;
  bucket: string;
  'group-by'?: string;
  tag?: string[];
  profile?: string;
  device?: string[];
  from?: string;
  to?: string;
  csv: boolean;
}

interface Aggregate {
  bucketMs: number;
  groupBy: string | null;
  source: string;
  devices: number;
  series: Array<{ group: string | null; points: Array<[number, number]> }>;
}

/** Epoch ms, an ISO date, or a duration before now (`90m`, `6h`, `2d`). */
export function parseTime(value: string | undefined, fallback: number, option: string, now = Date.now()): number {
  if (value === undefined) return fallback;
  const ago = /^(\d+)([smhd])$/.exec(value);
  if (ago) return now - Number(ago[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd'];
  const parsed = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(parsed)) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option, reason: `'${value}' is not epoch ms, an ISO date or a duration like 6h` });
  return parsed;
}

/** One row per bucket, one column per group (a group without a point in a bucket is empty). */
export function pivot(result: Aggregate): { columns: string[]; rows: Array<Record<string, string>> } {
  const name = (group: string | null) => (group === null ? (result.groupBy ? '(none)' : 'value') : group);
  const columns = ['time', ...result.series.map((s) => name(s.group))];
  const byTime = new Map<number, Record<string, string>>();
  for (const series of result.series) {
    for (const [t, value] of series.points) {
      let row = byTime.get(t);
      if (!row) byTime.set(t, (row = { time: new Date(t).toISOString() }));
      row[name(series.group)] = String(Number.isInteger(value) ? value : Number(value.toPrecision(6)));
    }
  }
  const rows = [...byTime].sort(([a], [b]) => a - b).map(([, row]) => row);
  return { columns, rows };
}

const csvCell = (value: string) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

export const queryCommand: CommandModule<GlobalArgs, QueryArgs> = {
  command: 'query <module>',
  describe: 'Aggregate one metric across devices (by tag, profile or id) in time buckets, grouped by device, profile or a tag',
  builder: (argv: Argv<GlobalArgs>) =>
    argv
      .positional('module', { type: 'string', demandOption: true })
      .option('metric', { type: 'string', demandOption: true, describe: 'metric name' })
      .option('fn', { type: 'string', default: 'avg', choices: ['avg', 'min', 'max', 'sum', 'count', 'last'] })
      .option('bucket', { type: 'string', default: '1m', describe: '1s 5s 10s 15s 30s 1m 5m 10m 15m 30m 1h 2h 3h 6h 12h 1d' })
      .option('group-by', { type: 'string', describe: 'device, profile or tag:<key>' })
      .option('tag', { type: 'string', array: true, describe: 'key=value, repeatable (all must match)' })
      .option('profile', { type: 'string', describe: 'only devices of this firmware profile' })
      .option('device', { type: 'string', array: true, describe: 'only these devices (repeatable)' })
      .option('from', { type: 'string', describe: 'start: epoch ms, ISO date, or a duration ago (default 1h)' })
      .option('to', { type: 'string', describe: 'end: epoch ms, ISO date, or a duration ago (default now)' })
      .option('csv', { type: 'boolean', default: false, describe: 'CSV, one column per group' })
      .example('$0 query ema --metric ema --tag site=north --bucket 1m --fn avg --group-by tag:line', 'per-minute average EMA of each line at site north, last hour')
      .example('$0 query ema --metric ema --from 7d --bucket 1h --fn max --csv > ema.csv', 'hourly maxima of the last week as CSV') as Argv<QueryArgs>,
  handler: async (args) => {
    const now = Date.now();
    const from = parseTime(args.from, now - 3_600_000, '--from', now);
    const to = parseTime(args.to, now, '--to', now);
    const result = await clientFor(args).get<Aggregate>('/api/v1/results/aggregate', {
      module: args.module,
      metric: args.metric,
      fn: args.fn,
      bucket: args.bucket,
      groupBy: args['group-by'],
      tag: args.tag,
      profile: args.profile,
      device: args.device,
      from,
      to,
    });
    if (args.csv && !args.json) {
      const { columns, rows } = pivot(result);
      process.stdout.write([columns, ...rows.map((row) => columns.map((c) => row[c] ?? ''))].map((cells) => cells.map(csvCell).join(',')).join('\n') + '\n');
      return;
    }
    emit(args.json, result, () => {
      const { columns, rows } = pivot(result);
      const footer = `${args.fn}(${args.metric}) per ${args.bucket} over ${result.devices} device(s), from ${result.source}`;
      return rows.length === 0 ? `no points (${footer})` : `${table(rows, columns)}\n${footer}`;
    });
  },
};
