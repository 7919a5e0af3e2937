/**
 * A device's results, paginated by an opaque cursor. The cursor encodes the (t, seq, id) of the
 * last row returned, so pages stay stable while new results arrive.
 */
import type { FastifyInstance } from 'fastify';
import { apiErrors } from '../../errors.js';
import type { RouteContext } from '../context.js';
import { DeviceParams, ResultsPage, ResultsQuery, errors } from '../schemas.js';

type Position = { t: number; seq: number; id: number };

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.t, position.seq, position.id])).toString('base64url');
}

export function decodeCursor(cursor: string): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 3 && value.every((n) => typeof n === 'number' && Number.isFinite(n))) {
      const [t, seq, id] = value as [number, number, number];
      return { t, seq, id };
    }
  } catch {
    // Falls through to the error below: a cursor is ours or it is invalid.
  }
  throw apiErrors.WF_API_VALIDATION({ field: 'querystring/cursor', reason: 'is not a cursor returned by this API' });
}

export async function resultRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.get<{ Params: DeviceParams; Querystring: ResultsQuery }>(
    '/devices/:id/results',
    {
      schema: {
        tags: ['results'],
        summary: "A device's metric points and events, ordered by t then seq",
        params: DeviceParams,
        querystring: ResultsQuery,
        response: { 200: ResultsPage, ...errors(404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const query = request.query;
      // Existence only: a full device row would parse its desired and reported JSON on every query.
      if (ctx.store.isOnline(id) === undefined) throw apiErrors.WF_API_NOT_FOUND({ kind: 'device', id, field: 'params/id' });
      // This device's results still queued for the next turn would otherwise be invisible for up
      // to flushMs; only its own are written, so a query does not commit the whole fleet's queue,
      // and together with those of the other queries that came in the same event-loop turn.
      await ctx.ingestion.flushDevicesSoon([id]);
      const rows = ctx.store.queryResults({
        deviceId: id,
        module: query.module,
        metric: query.metric,
        kind: query.kind,
        from: query.from,
        to: query.to,
        after: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
        limit: query.limit + 1,
      });
      const more = rows.length > query.limit;
      const page = more ? rows.slice(0, query.limit) : rows;
      const last = page[page.length - 1];
      return {
        results: page.map(({ kind, seq, module, version, deploymentId, metric, t, value }) => ({ kind, seq, module, version, deploymentId, metric, t, value })),
        nextCursor: more && last ? encodeCursor(last) : null,
      };
    },
  );
}
