/**
 * Signing keys (docs/security.md). GET is a read; every change is key administration (the
 * `admin` role once per-route roles exist): trusting or revoking a publisher key, rotating the
 * fleet key, or adopting a trusted-keys list signed offline. Each change publishes every desired
 * state again, carrying the new list, so agents learn it without being reflashed.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { keyIdOf, PUBLIC_KEY_PATTERN, TrustedKeysSchema, type TrustedKeys } from '../../../protocol/index.js';
import type { RouteContext } from '../context.js';
import { errors } from '../schemas.js';

const KeysView = Type.Object({
  root: Type.Object({ keyId: Type.String(), publicKey: Type.String(), online: Type.Boolean({ description: 'the root private key is on this server' }) }),
  fleetKeyId: Type.String(),
  trustedKeys: TrustedKeysSchema,
});

const TrustKeyBody = Type.Object(
  {
    publicKey: Type.String({ pattern: PUBLIC_KEY_PATTERN, description: 'base64 of the 32-byte ed25519 public key (`wasmfleet keys create publisher` prints it)' }),
    name: Type.String({ minLength: 1, maxLength: 64 }),
    role: Type.Optional(Type.Literal('publisher')),
  },
  { additionalProperties: false },
);
type TrustKeyBody = Static<typeof TrustKeyBody>;

const KeyParams = Type.Object({ keyId: Type.String({ pattern: '^[0-9a-f]{8,64}$', description: 'key id or a prefix of at least 8 hex digits' }) }, { additionalProperties: false });
type KeyParams = Static<typeof KeyParams>;

const ChangeResult = Type.Object({ trustedKeys: TrustedKeysSchema, republished: Type.Integer({ description: 'desired states published again with the new list' }) });

export async function keyRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  const view = () => ({
    root: { keyId: keyIdOf(ctx.signing.rootPublicKey), publicKey: ctx.signing.rootPublicKey, online: ctx.signing.rootOnline() },
    fleetKeyId: ctx.signing.fleetKeyId,
    trustedKeys: ctx.signing.trustedKeys(),
  });
  const changed = async (trustedKeys: TrustedKeys, action: string) => {
    ctx.logger.info('trusted keys changed', { action, version: trustedKeys.version });
    return { trustedKeys, republished: await ctx.link.republishDesired() };
  };

  app.get('/keys', { schema: { tags: ['keys'], summary: 'The root key, the fleet key and the trusted-keys list in force', response: { 200: KeysView, ...errors() } } }, async () => view());

  app.post<{ Body: TrustKeyBody }>(
    '/keys',
    {
      schema: {
        tags: ['keys'],
        summary: 'Trust a publisher key: signs a new trusted-keys list with the root key and publishes it',
        body: TrustKeyBody,
        response: { 201: ChangeResult, ...errors(403, 409) },
      },
    },
    async (request, reply) => {
      const { publicKey, name } = request.body;
      return reply.status(201).send(await changed(ctx.signing.trustKey({ publicKey, name, role: 'publisher' }), `trust ${name}`));
    },
  );

  app.delete<{ Params: KeyParams }>(
    '/keys/:keyId',
    {
      schema: {
        tags: ['keys'],
        summary: 'Revoke a publisher key: agents refuse modules it signed from the next desired state on',
        params: KeyParams,
        response: { 200: ChangeResult, ...errors(403, 404, 409) },
      },
    },
    async (request) => changed(ctx.signing.revokeKey(request.params.keyId), `revoke ${request.params.keyId}`),
  );

  app.post(
    '/keys/fleet/rotate',
    {
      schema: {
        tags: ['keys'],
        summary: 'Replace the fleet key: a new list trusts only the new one, and every desired state is re-signed with it',
        response: { 200: ChangeResult, ...errors(403, 409) },
      },
    },
    async () => changed(ctx.signing.rotateFleetKey(), 'rotate fleet key'),
  );

  app.put<{ Body: TrustedKeys }>(
    '/keys/trusted',
    {
      schema: {
        tags: ['keys'],
        summary: 'Adopt a trusted-keys list signed with the offline root key (`wasmfleet keys sign-trusted`)',
        body: TrustedKeysSchema,
        response: { 200: ChangeResult, ...errors(403, 422) },
      },
    },
    async (request) => changed(ctx.signing.adoptTrustedKeys(request.body), `adopt version ${request.body.version}`),
  );
}
