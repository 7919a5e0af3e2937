/** `wasmfleet results DEVICE`: query a device's module results over REST. */
import type { Argv, CommandModule } from 'yargs';
import { clientFor } from '../api-client.js';
import type { GlobalArgs } from '../global-options.js';
import { emit, table } from '../output.js';

interface ResultsArgs extends GlobalArgs {
  device: string;
  module?: string;
  metric?: string;
  from?: string;
  to?: string;
  limit: number;
  cursor?: string;
}

interface ResultRow {
  seq: number;
  module: string;
  metric: string;
  t: number;
  value: number;
  [key: string]: unknown;
}

/** Accepts epoch milliseconds or an ISO date. */
function toEpochMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const numeric = Number(value);
  return Number.isFinite(numeric) ? numeric : Date.parse(value);
}

export const resultsCommand: CommandModule<GlobalArgs, ResultsArgs> = {
  command: 'results <device>',
  describe: "Query a device's results (metrics and events), newest pages via --cursor",
  builder: (argv: Argv<GlobalArgs>) =>
    argv
      .positional('device', { type: 'string', demandOption: true })
      .option('module', { type: 'string', describe: 'only this module' })
      .option('metric', { type: 'string', describe: 'only this metric or event name' })
      .option('from', { type: 'string', describe: 'from time (ISO date or epoch ms)' })
      .option('to', { type: 'string', describe: 'to time (ISO date or epoch ms)' })
      .option('limit', { type: 'number', default: 100, describe: 'rows per page (max 1000)' })
      .option('cursor', { type: 'string', describe: 'next-page cursor from a previous call' })
      .example('$0 results gw-01 --module ema --json', "gw-01's EMA results as JSON") as Argv<ResultsArgs>,
  handler: async (args) => {
    const page = await clientFor(args).get<{ results: ResultRow[]; nextCursor?: string | null }>(
      `/api/v1/devices/${encodeURIComponent(args.device)}/results`,
      {
        module: args.module,
        metric: args.metric,
        from: toEpochMs(args.from),
        to: toEpochMs(args.to),
        limit: args.limit,
        cursor: args.cursor,
      },
    );
    emit(args.json, page, () =>
      [
        table(
          page.results.map((r) => ({ ...r, time: new Date(r.t).toISOString() })),
          ['time', 'module', 'kind', 'metric', 'value', 'seq'],
        ),
        page.nextCursor ? `more: --cursor ${page.nextCursor}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  },
};
