/** The audit log over REST: newest first, filtered, paged by `before`. Admin only (route-roles.ts). */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';
import { Timestamp, errors } from '../schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

const AuditQuery = Type.Object(
  {
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'token id or token name' })),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'exact action, or a prefix ending in "." (e.g. device.)' })),
    target: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601, inclusive' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601, inclusive' })),
    failed: Type.Optional(Type.Boolean({ description: 'true: only refused or failed attempts (status >= 400); false: only successes' })),
    before: Type.Optional(Type.Integer({ minimum: 1, description: 'entries older than this id (nextBefore of the previous page)' })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
);
type AuditQuery = Static<typeof AuditQuery>;

const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: Timestamp,
  actorId: Nullable(Type.String()),
  actorName: Type.String(),
  actorRole: Nullable(Type.String()),
  action: Type.String(),
  method: Nullable(Type.String()),
  path: Nullable(Type.String()),
  target: Nullable(Type.String()),
  status: Nullable(Type.Integer()),
  remoteAddress: Nullable(Type.String()),
  detail: Nullable(Type.Record(Type.String(), Type.Unknown())),
});

export async function auditRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.get<{ Querystring: AuditQuery }>(
    '/audit',
    {
      schema: {
        tags: ['access'],
        summary: 'The audit log of changes: who, what, when, from where; newest first',
        querystring: AuditQuery,
        response: { 200: Type.Object({ entries: Type.Array(AuditEntry), nextBefore: Nullable(Type.Integer()) }), ...errors(403) },
      },
    },
    async (request) => {
      const { limit, ...filters } = request.query;
      const rows = ctx.store.queryAudit({ ...filters, limit: limit + 1 });
      const more = rows.length > limit;
      const entries = more ? rows.slice(0, limit) : rows;
      return { entries, nextBefore: more ? entries[entries.length - 1]!.id : null };
    },
  );
}
