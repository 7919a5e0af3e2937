/** Who the caller's token is and its role: the console offers only what that role may do. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.js';
import { errors } from '../schemas.js';
import { TokenRoleSchema } from './tokens.js';

const Whoami = Type.Object({
  tokenId: Type.String(),
  name: Type.String(),
  role: TokenRoleSchema,
});

export async function whoamiRoutes(app: FastifyInstance, _ctx: RouteContext): Promise<void> {
  app.get(
    '/whoami',
    { schema: { tags: ['system'], summary: "The calling token's id, name and role", response: { 200: Whoami, ...errors() } } },
    // Every non-public route has a principal once the auth hook has passed.
    async (request) => ({ tokenId: request.principal!.tokenId, name: request.principal!.name, role: request.principal!.role }),
  );
}
