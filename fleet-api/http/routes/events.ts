/** GET /events: the live event stream over Server-Sent Events (docs/api.md §Live events). */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { apiErrors } from '../../errors.js';
import { parseEventFilter, parseEventId } from '../../events/index.js';
import type { RouteContext } from '../context.js';
import { errors } from '../schemas.js';

const EventsQuery = Type.Object(
  {
    device: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { maxItems: 1000, description: 'device id, repeatable (OR)' })),
    tag: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_.-]{0,31}=.{0,64}$' }), { maxItems: 32, description: 'key=value, repeatable (AND)' })),
    deployment: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100, description: 'deployment id, repeatable (OR)' })),
    kind: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 32 }), { maxItems: 16, description: 'device, rollout, result, or an event name' })),
    sampleMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 0, description: 'at most one result event per device, module and metric per this many ms' }),
  },
  { additionalProperties: false },
);
type EventsQuery = Static<typeof EventsQuery>;

export async function eventRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.get<{ Querystring: EventsQuery }>(
    '/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Live fleet events as Server-Sent Events (text/event-stream); resume with Last-Event-ID',
        querystring: EventsQuery,
        response: { ...errors(503) },
      },
    },
    async (request, reply) => {
      const filter = parseEventFilter(request.query);
      if ('reason' in filter) throw apiErrors.WF_API_VALIDATION(filter);
      const header = request.headers['last-event-id'];
      const lastEventId = Array.isArray(header) ? header[header.length - 1] : header;
      if (lastEventId !== undefined && lastEventId !== '' && !parseEventId(lastEventId)) {
        throw apiErrors.WF_API_VALIDATION({ field: 'headers/last-event-id', reason: `'${lastEventId.slice(0, 40)}' is not an event id (<boot>-<seq>)` });
      }
      const { streams } = ctx.events;
      if (!streams.canOpen()) throw apiErrors.WF_API_UNAVAILABLE({ reason: `${streams.open} event streams are open (events.maxStreams)` });
      reply.hijack();
      streams.attach(reply.raw, filter, request.query.sampleMs, lastEventId || undefined);
    },
  );
}
