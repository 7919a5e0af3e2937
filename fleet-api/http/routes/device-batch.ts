/**
 * Bulk provisioning: up to 10,000 devices in one request, all or nothing (docs/api.md §Batch
 * provisioning). Every item is checked before anything is written, and the first problem is
 * refused naming its item and field (`body/devices/3/id`); otherwise every device is inserted in
 * one transaction and each MQTT password is returned once, in the order given.
 */
import type { FastifyInstance } from 'fastify';
import { generateSecret, hashSecretSync } from '../../../common/secrets.js';
import { listProfileNames } from '../../../firmware-profiles/index.js';
import { apiErrors } from '../../errors.js';
import type { RouteContext } from '../context.js';
import { BatchProvisionBody, BatchProvisionResponse, errors } from '../schemas.js';
import { deviceSummary } from '../views.js';

export const MAX_BATCH_DEVICES = 10_000;

export async function deviceBatchRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.post<{ Body: BatchProvisionBody }>(
    '/devices/batch',
    {
      schema: {
        tags: ['devices'],
        summary: 'Provision up to 10,000 devices at once, all or nothing; each MQTT password is returned once',
        body: BatchProvisionBody,
        response: { 201: BatchProvisionResponse, ...errors(403, 409) },
      },
    },
    async (request, reply) => {
      const { devices } = request.body;
      const known = new Set(listProfileNames());
      const seen = new Map<string, number>();
      for (const [index, device] of devices.entries()) {
        if (!known.has(device.profile)) {
          throw apiErrors.WF_API_VALIDATION({
            field: `body/devices/${index}/profile`,
            reason: `unknown firmware profile '${device.profile}'; known: ${[...known].join(', ')}`,
          });
        }
        const earlier = seen.get(device.id);
        if (earlier !== undefined) {
          throw apiErrors.WF_API_VALIDATION({ field: `body/devices/${index}/id`, reason: `'${device.id}' is also item ${earlier} of this batch` });
        }
        seen.set(device.id, index);
        if (device.hub !== undefined && !ctx.store.getHub(device.hub)) {
          throw apiErrors.WF_API_VALIDATION({ field: `body/devices/${index}/hub`, reason: `hub '${device.hub}' does not exist` });
        }
      }
      const existing = ctx.store.existingDeviceIds([...seen.keys()]);
      if (existing.length > 0) {
        const index = seen.get(existing[0]!)!;
        throw apiErrors.WF_API_CONFLICT({
          reason: `device '${existing[0]}' already exists${existing.length > 1 ? ` (and ${existing.length - 1} more of this batch)` : ''}; nothing was provisioned`,
          field: `body/devices/${index}/id`,
        });
      }
      const passwords = devices.map(() => generateSecret('wfd'));
      // The HMAC hash is microseconds (common/secrets.ts), so 10,000 hash in the request itself.
      const records = ctx.store.transaction(() => {
        const inserted = ctx.store.insertDevices(
          devices.map(({ id, profile, tags = {} }, i) => ({ id, profile, tags, credentialHash: hashSecretSync(passwords[i]!) })),
        );
        // Each device behind its explicit hub, else the one its tags select (docs/federation.md).
        for (const { id, tags = {}, hub } of devices) {
          const hubId = hub ?? ctx.store.hubForTags(tags);
          if (hubId !== null) ctx.store.setDeviceHub(id, hubId);
        }
        return inserted;
      });
      const behind = new Set(devices.map(({ id }) => ctx.store.deviceHub(id)));
      await ctx.hubs.changed(...behind);
      ctx.logger.info('devices provisioned', { count: devices.length, first: devices[0]!.id });
      ctx.rollouts.nudge();
      return reply.status(201).send({
        devices: records.map((record, i) => ({
          device: deviceSummary(record),
          mqtt: { url: ctx.options.publicMqttUrl, username: record.id, password: passwords[i]! },
        })),
        trust: ctx.signing.agentTrust(),
      });
    },
  );
}
