/** GET /results/aggregate: one metric across a device selection, in time buckets (docs/api.md §Fleet-wide analytics). */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { PARAM_NAME_PATTERN } from '../../../protocol/index.js';
import { apiErrors } from '../../errors.js';
import { AGGREGATE_FNS, type GroupBy } from '../../store/aggregates.js';
import type { RouteContext } from '../context.js';
import { DeviceId, ModuleName, errors } from '../schemas.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
export const BUCKETS: Readonly<Record<string, number>> = Object.freeze({
  '1s': SECOND, '5s': 5 * SECOND, '10s': 10 * SECOND, '15s': 15 * SECOND, '30s': 30 * SECOND,
  '1m': MINUTE, '5m': 5 * MINUTE, '10m': 10 * MINUTE, '15m': 15 * MINUTE, '30m': 30 * MINUTE,
  '1h': HOUR, '2h': 2 * HOUR, '3h': 3 * HOUR, '6h': 6 * HOUR, '12h': 12 * HOUR, '1d': 24 * HOUR,
});
export const MAX_BUCKETS = 20_000;
/** Sub-minute buckets read raw points; this bounds how many. */
export const MAX_RAW_RANGE_MS = 6 * HOUR;

const AggregateQuery = Type.Object(
  {
    module: ModuleName,
    metric: Type.String({ pattern: PARAM_NAME_PATTERN }),
    from: Type.Integer({ minimum: 0, description: 'epoch ms, rounded down to a bucket boundary' }),
    to: Type.Integer({ minimum: 0, description: 'epoch ms, rounded up to a bucket boundary' }),
    bucket: Type.Union(Object.keys(BUCKETS).map((b) => Type.Literal(b)), { default: '1m' }),
    fn: Type.Union(AGGREGATE_FNS.map((f) => Type.Literal(f)), { default: 'avg' }),
    groupBy: Type.Optional(Type.String({ pattern: '^(device|profile|tag:[a-z][a-z0-9_.-]{0,31})$', description: 'device, profile or tag:<key>' })),
    tag: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,31}=.{0,64}$' }), { maxItems: 32, description: 'key=value, repeatable (AND)' })),
    profile: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    device: Type.Optional(Type.Array(DeviceId, { maxItems: 1000 })),
  },
  { additionalProperties: false },
);
type AggregateQuery = Static<typeof AggregateQuery>;

const AggregateResponse = Type.Object({
  module: Type.String(),
  metric: Type.String(),
  fn: Type.String(),
  bucketMs: Type.Integer(),
  from: Type.Integer(),
  to: Type.Integer(),
  groupBy: Type.Union([Type.String(), Type.Null()]),
  source: Type.String({ description: 'rollup-hour, rollup-minute or raw' }),
  devices: Type.Integer({ description: 'devices the selection matched' }),
  series: Type.Array(
    Type.Object({
      group: Type.Union([Type.String(), Type.Null()]),
      points: Type.Array(Type.Tuple([Type.Number(), Type.Number()]), { description: '[bucket start epoch ms, value]' }),
    }),
  ),
});

export function parseGroupBy(value: string | undefined): GroupBy {
  if (value === undefined) return { by: 'none' };
  if (value === 'device' || value === 'profile') return { by: value };
  return { by: 'tag', key: value.slice('tag:'.length) };
}

export async function aggregateRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.get<{ Querystring: AggregateQuery }>(
    '/results/aggregate',
    {
      schema: {
        tags: ['results'],
        summary: 'One metric aggregated in time buckets across devices selected by tag, profile or id, grouped by device, profile or a tag key',
        querystring: AggregateQuery,
        response: { 200: AggregateResponse, ...errors() },
      },
    },
    async (request) => {
      const q = request.query;
      const bucketMs = BUCKETS[q.bucket]!;
      const from = Math.floor(q.from / bucketMs) * bucketMs;
      const to = Math.ceil(q.to / bucketMs) * bucketMs;
      const invalid = (reason: string) => apiErrors.WF_API_VALIDATION({ field: 'querystring/from', reason });
      if (q.to <= q.from) throw invalid(`the range [${q.from}, ${q.to}) is empty`);
      if ((to - from) / bucketMs > MAX_BUCKETS) throw invalid(`the range holds ${(to - from) / bucketMs} buckets of ${q.bucket}, more than ${MAX_BUCKETS}: use a larger bucket or a shorter range`);
      if (bucketMs < MINUTE && to - from > MAX_RAW_RANGE_MS) throw invalid(`sub-minute buckets read raw points over at most ${MAX_RAW_RANGE_MS / HOUR} h; the range is ${((to - from) / HOUR).toFixed(1)} h`);
      const tags: Record<string, string> = {};
      for (const pair of q.tag ?? []) {
        const at = pair.indexOf('=');
        tags[pair.slice(0, at)] = pair.slice(at + 1);
      }
      const groupBy = parseGroupBy(q.groupBy);
      const devices = ctx.store.selectDevices({ tags, profile: q.profile, ids: q.device }, groupBy);
      // Points of these devices still queued for the next turn would otherwise be missing for up
      // to flushMs; other devices' queued points are no business of this query.
      ctx.ingestion.flushDevices(devices.map(([id]) => id));
      const { source, series } = ctx.store.aggregateResults({ module: q.module, metric: q.metric, from, to, bucketMs, fn: q.fn }, devices);
      return { module: q.module, metric: q.metric, fn: q.fn, bucketMs, from, to, groupBy: q.groupBy ?? null, source, devices: devices.length, series };
    },
  );
}
