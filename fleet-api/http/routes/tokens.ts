/** API tokens: create (the clear token is returned once), list, revoke. Admin only (route-roles.ts). */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { apiErrors } from '../../errors.js';
import { TOKEN_ROLES, tokenIdOf } from '../../store/index.js';
import type { RouteContext } from '../context.js';
import { Timestamp, errors } from '../schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const TokenRoleSchema = Type.Union(TOKEN_ROLES.map((role) => Type.Literal(role)), { description: 'viewer < operator < admin' });

export const CreateTokenBody = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9 ._@:-]{0,99}$', description: 'who or what uses it, e.g. "ci-deployer"' }),
    role: TokenRoleSchema,
  },
  { additionalProperties: false },
);
export type CreateTokenBody = Static<typeof CreateTokenBody>;

export const TokenView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: TokenRoleSchema,
  createdAt: Timestamp,
  createdBy: Nullable(Type.String()),
  revokedAt: Nullable(Timestamp),
  lastUsedAt: Nullable(Timestamp),
});

const TokenCreated = Type.Intersect([TokenView, Type.Object({ token: Type.String({ description: 'shown once; only its hash is stored' }) })]);
const TokenParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{16}$' }) }, { additionalProperties: false });
const TokenListQuery = Type.Object({ revoked: Type.Boolean({ default: true, description: 'include revoked tokens' }) }, { additionalProperties: false });

export async function tokenRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.post<{ Body: CreateTokenBody }>(
    '/tokens',
    {
      schema: {
        tags: ['access'],
        summary: 'Create an API token with a role; the token is returned once',
        body: CreateTokenBody,
        response: { 201: TokenCreated, ...errors(403) },
      },
    },
    async (request, reply) => {
      const token = ctx.store.createToken(request.body.name, request.body.role, request.principal?.tokenId ?? null);
      const record = ctx.store.getToken(tokenIdOf(token)!)!;
      const { hash: _hash, ...view } = record;
      request.audit = { target: record.id, detail: { name: record.name, role: record.role } };
      ctx.logger.info('api token created', { tokenId: record.id, role: record.role, by: request.principal?.tokenId });
      return reply.status(201).send({ ...view, token });
    },
  );

  app.get<{ Querystring: Static<typeof TokenListQuery> }>(
    '/tokens',
    {
      schema: {
        tags: ['access'],
        summary: 'List API tokens (never their secrets)',
        querystring: TokenListQuery,
        response: { 200: Type.Object({ tokens: Type.Array(TokenView) }), ...errors(403) },
      },
    },
    async (request) => ({ tokens: ctx.store.listTokens({ includeRevoked: request.query.revoked }) }),
  );

  app.delete<{ Params: Static<typeof TokenParams> }>(
    '/tokens/:id',
    {
      schema: {
        tags: ['access'],
        summary: 'Revoke an API token at once; the last active admin token cannot be revoked',
        params: TokenParams,
        response: { 204: Type.Null(), ...errors(403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const outcome = ctx.store.revokeToken(id);
      if (outcome === 'unknown') throw apiErrors.WF_API_NOT_FOUND({ kind: 'token', id, field: 'params/id' });
      if (outcome === 'already-revoked') throw apiErrors.WF_API_CONFLICT({ reason: `token '${id}' is already revoked`, field: 'params/id' });
      if (outcome === 'last-admin') {
        throw apiErrors.WF_API_CONFLICT({ reason: `token '${id}' is the last active admin token; create another admin token first`, field: 'params/id' });
      }
      ctx.logger.info('api token revoked', { tokenId: id, by: request.principal?.tokenId });
      return reply.status(204).send();
    },
  );
}
