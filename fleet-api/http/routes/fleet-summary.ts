/** Fleet-wide counts (online, offline, out of sync, faulted, quarantined) in total, by profile, tag and hub. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';
import { errors } from '../schemas.js';

const CountFields = {
  total: Type.Integer(),
  online: Type.Integer(),
  offline: Type.Integer(),
  outOfSync: Type.Integer({ description: 'reported revision behind the desired one' }),
  faulted: Type.Integer({ description: 'a module failed (quarantined included) or with faults > 0 in its reported state, as GET /devices?faulted=true' }),
};

const FleetSummary = Type.Object({
  ...CountFields,
  byProfile: Type.Array(Type.Object({ profile: Type.String(), ...CountFields })),
  byTag: Type.Array(Type.Object({ key: Type.String(), value: Type.String(), ...CountFields })),
  tagPairs: Type.Integer({ description: 'distinct tag pairs in the fleet; byTag holds the most common `tags` of them' }),
  quarantined: Type.Integer({ description: 'a module the agent quarantined (stopped restarting) in its reported state, as GET /devices?quarantined=true' }),
  byHub: Type.Array(
    Type.Object({ hub: Type.String(), ...CountFields, quarantined: Type.Integer() }),
    { description: 'every hub, with the devices behind it itself (not behind its child hubs)' },
  ),
});

const SummaryQuery = Type.Object(
  { tags: Type.Integer({ minimum: 0, maximum: 1000, default: 100, description: 'how many tag pairs to return, most common first' }) },
  { additionalProperties: false },
);

export async function fleetSummaryRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.get<{ Querystring: { tags: number } }>(
    '/fleet/summary',
    {
      schema: {
        tags: ['devices'],
        summary: 'Device counts: online, offline, out of sync, faulted, quarantined; in total, by profile, tag pair and hub',
        querystring: SummaryQuery,
        response: { 200: FleetSummary, ...errors() },
      },
    },
    async (request) => ({ ...ctx.store.fleetSummary(request.query.tags), ...ctx.store.fleetBreakdowns() }),
  );
}
