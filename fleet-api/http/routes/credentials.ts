/**
 * Device credential rotation: a new MQTT secret, returned once. With a grace period (the
 * default) the old secret keeps working until the device first connects with the new one or the
 * period ends, whichever comes first, so a fleet can be re-keyed without an outage. With
 * `graceSeconds: 0` the old secret stops at once and the device's open sessions are cut
 * (compromise response). See docs/api.md §Credential rotation.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { generateSecret, hashSecret } from '../../../common/secrets.js';
import { apiErrors } from '../../errors.js';
import type { RouteContext } from '../context.js';
import { DeviceParams, Timestamp, errors } from '../schemas.js';

/** A week: longer overlaps leave a leaked secret usable for too long. */
export const MAX_GRACE_SECONDS = 7 * 24 * 3600;
export const DEFAULT_GRACE_SECONDS = 24 * 3600;

const RotateBody = Type.Object(
  {
    graceSeconds: Type.Integer({
      minimum: 0,
      maximum: MAX_GRACE_SECONDS,
      default: DEFAULT_GRACE_SECONDS,
      description: 'how long the old secret stays valid unless the device connects with the new one first; 0 = revoke it now',
    }),
  },
  { additionalProperties: false },
);
type RotateBody = Static<typeof RotateBody>;

const Rotated = Type.Object({
  deviceId: Type.String(),
  mqtt: Type.Object({ url: Type.String(), username: Type.String(), password: Type.String({ description: 'shown once' }) }),
  rotatedAt: Timestamp,
  previousValidUntil: Type.Union([Timestamp, Type.Null()], { description: 'null: the old secret no longer works' }),
});

export async function credentialRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.post<{ Params: DeviceParams; Body: RotateBody }>(
    '/devices/:id/credentials/rotate',
    {
      schema: {
        tags: ['devices'],
        summary: "Issue a new MQTT secret for a device; the old one works until the device uses the new one or the grace period ends",
        params: DeviceParams,
        body: RotateBody,
        response: { 200: Rotated, ...errors(403, 404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const graceSeconds = request.body?.graceSeconds ?? DEFAULT_GRACE_SECONDS;
      if (!ctx.store.getDevice(id)) throw apiErrors.WF_API_NOT_FOUND({ kind: 'device', id, field: 'params/id' });
      const password = generateSecret('wfd');
      const hash = await hashSecret(password);
      const now = new Date();
      const outcome = ctx.store.rotateDeviceCredential(id, hash, graceSeconds, now);
      // Deleted while hashing.
      if (!outcome) throw apiErrors.WF_API_NOT_FOUND({ kind: 'device', id, field: 'params/id' });
      await ctx.credentials?.put(id);
      // Its hub checks the new hash (and the previous one during the grace) from its site document.
      await ctx.hubs.changed(ctx.store.deviceHub(id));
      // Without grace, sessions opened with the old secret must not outlive it [WF-P-T-6].
      if (graceSeconds === 0) await ctx.link.revokeDevice(id);
      request.audit = { target: id, detail: { graceSeconds, previousValidUntil: outcome.previousExpiresAt } };
      ctx.logger.info('device credentials rotated', { deviceId: id, graceSeconds });
      return {
        deviceId: id,
        mqtt: { url: ctx.options.publicMqttUrl, username: id, password },
        rotatedAt: now.toISOString(),
        previousValidUntil: outcome.previousExpiresAt,
      };
    },
  );
}
