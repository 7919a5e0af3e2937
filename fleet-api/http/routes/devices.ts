/** Device provisioning and inventory. */
import type { FastifyInstance } from 'fastify';
import { generateSecret, hashSecret } from '../../../common/secrets.js';
import { listProfileNames } from '../../../firmware-profiles/index.js';
import { apiErrors } from '../../errors.js';
import type { RouteContext } from '../context.js';
import {
  CreateDeviceBody,
  DeviceDetail,
  DeviceListQuery,
  DevicePage,
  DeviceParams,
  DeviceSummary,
  ProvisionResponse,
  UpdateDeviceBody,
  errors,
} from '../schemas.js';
import { deviceDetail, deviceSummary } from '../views.js';
import { unreachableHubs } from '../../hubs/views.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { lastEntryStart, sortKeyOf, type DevicePageQuery } from '../../store/index.js';
import { Type } from '@sinclair/typebox';

const isConstraint = (error: unknown, code: string): boolean => (error as { code?: unknown }).code === code;

export async function deviceRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.post<{ Body: CreateDeviceBody }>(
    '/devices',
    {
      schema: {
        tags: ['devices'],
        summary: "Provision a device; its MQTT password is returned once",
        body: CreateDeviceBody,
        response: { 201: ProvisionResponse, ...errors(403, 409) },
      },
    },
    async (request, reply) => {
      const { id, profile, tags = {}, hub: hubGiven } = request.body;
      const known = listProfileNames();
      if (!known.includes(profile)) {
        throw apiErrors.WF_API_VALIDATION({ field: 'body/profile', reason: `unknown firmware profile '${profile}'; known: ${known.join(', ')}` });
      }
      if (ctx.store.getDevice(id)) throw apiErrors.WF_API_CONFLICT({ reason: `device '${id}' already exists`, field: 'body/id' });
      const hub = hubGiven !== undefined ? ctx.store.getHub(hubGiven) : undefined;
      if (hubGiven !== undefined && !hub) throw apiErrors.WF_API_VALIDATION({ field: 'body/hub', reason: `hub '${hubGiven}' does not exist` });
      const password = generateSecret('wfd');
      const credentialHash = await hashSecret(password);
      let device;
      try {
        device = ctx.store.transaction(() => {
          const inserted = ctx.store.insertDevice({ id, profile, tags, credentialHash });
          // Explicit hub first; else the hub whose selector the tags match (docs/federation.md).
          const hubId = hub?.id ?? ctx.store.hubForTags(tags);
          if (hubId !== null) ctx.store.setDeviceHub(id, hubId);
          return inserted;
        });
      } catch (error) {
        // Two concurrent provisions of one id: the loser lands here after hashing.
        if (isConstraint(error, 'SQLITE_CONSTRAINT_PRIMARYKEY')) throw apiErrors.WF_API_CONFLICT({ reason: `device '${id}' already exists`, field: 'body/id' });
        throw error;
      }
      await ctx.credentials?.put(id);
      const behind = ctx.store.deviceHub(id) ?? null;
      // Its hub (and the ones above) must admit it before its agent first connects there.
      await ctx.hubs.changed(behind);
      ctx.logger.info('device provisioned', { deviceId: id, profile, ...(behind ? { hubId: behind } : {}) });
      // A running or finished rollout whose selector matches picks the new device up.
      ctx.rollouts.nudge();
      const hubRecord = behind ? ctx.store.getHub(behind) : undefined;
      return reply.status(201).send({
        device: deviceSummary({ ...device, hubId: behind }),
        mqtt: { url: ctx.options.publicMqttUrl, ...(ctx.options.publicMqttUrls.length > 1 ? { urls: [...ctx.options.publicMqttUrls] } : {}), username: id, password },
        ...(hubRecord ? { hub: { id: hubRecord.id, urls: hubRecord.urls } } : {}),
        trust: ctx.signing.agentTrust(),
      });
    },
  );

  app.get<{ Querystring: DeviceListQuery }>(
    '/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'One page of devices, filtered (tags, profile, online, in sync, faulted, quarantined, hub, id prefix) and sorted; nextCursor for the next',
        querystring: DeviceListQuery,
        response: { 200: DevicePage, ...errors() },
      },
    },
    async (request, reply) => {
      const { tag = [], profile, online, inSync, faulted, quarantined, idPrefix, hub, sort, limit, cursor } = request.query;
      const tags: Record<string, string> = {};
      for (const pair of tag) {
        const at = pair.indexOf('=');
        tags[pair.slice(0, at)] = pair.slice(at + 1);
      }
      const byId = sort === 'id' || sort === '-id';
      let after: DevicePageQuery['after'];
      if (cursor !== undefined) {
        const position = decodeCursor(cursor, sort, byId ? 1 : 2);
        const [key, id] = byId ? [null, position[0]] : position;
        if (typeof id !== 'string' || (key !== null && typeof key !== 'string')) {
          throw apiErrors.WF_API_VALIDATION({ field: 'querystring/cursor', reason: 'is not a cursor returned by this API' });
        }
        after = { key, id };
      }
      // The page comes as the JSON texts of its devices' entries, joined (store/device-summary-json.ts:
      // what deviceSummary and the response schema above make of each), so it is sent as it is, not
      // serialized: the schema still documents it and the tests check it against it.
      const page = ctx.store.pageDevicesJson({ tags, profile, online, inSync, faulted, quarantined, idPrefix, hub, sort, after, limit: limit + 1 }, unreachableHubs(ctx.store));
      let entries = page.entries;
      let nextCursor: string | null = null;
      if (page.count > limit) {
        // One more than asked was read to know a next page exists: drop it, resume after the one before.
        entries = entries.slice(0, lastEntryStart(entries) - 1);
        const last = JSON.parse(entries.slice(lastEntryStart(entries))) as { id: string; createdAt: string; lastSeen: string | null };
        nextCursor = encodeCursor(sort, byId ? [last.id] : [sortKeyOf(last, sort), last.id]);
      }
      return reply.type('application/json; charset=utf-8').send(`{"devices":[${entries}],"nextCursor":${JSON.stringify(nextCursor)}}`);
    },
  );

  app.get<{ Params: DeviceParams }>(
    '/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: 'One device with its desired and reported state',
        params: DeviceParams,
        response: { 200: DeviceDetail, ...errors(404) },
      },
    },
    async (request) => {
      const device = ctx.store.getDevice(request.params.id);
      if (!device) throw apiErrors.WF_API_NOT_FOUND({ kind: 'device', id: request.params.id, field: 'params/id' });
      return deviceDetail({ ...device, hubId: ctx.store.deviceHub(device.id) ?? null }, unreachableHubs(ctx.store));
    },
  );

  app.patch<{ Params: DeviceParams; Body: UpdateDeviceBody }>(
    '/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: "Replace a device's tags; rollouts whose selector it now matches pick it up, and a hub whose selector it now matches takes it",
        params: DeviceParams,
        body: UpdateDeviceBody,
        response: { 200: DeviceSummary, ...errors(403, 404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const before = ctx.store.deviceHub(id);
      if (!ctx.store.setTags(id, request.body.tags)) throw apiErrors.WF_API_NOT_FOUND({ kind: 'device', id, field: 'params/id' });
      // Tags that match a hub's selector put the device behind that hub, as at `device add` (the
      // best match: most pairs, then deepest); tags matching none leave it where it is (it may
      // have been put behind its hub by name). Both sites change: the one it left drops it.
      const target = ctx.store.hubForTags(request.body.tags);
      const moved = target !== null && target !== before;
      if (moved) {
        ctx.store.setDeviceHub(id, target);
        await ctx.hubs.changed(before, target);
      }
      ctx.logger.info('device re-tagged', { deviceId: id, ...(moved ? { hubId: target, fromHub: before ?? null } : {}) });
      ctx.rollouts.nudge();
      return deviceSummary({ ...ctx.store.getDevice(id)!, hubId: ctx.store.deviceHub(id) ?? null });
    },
  );

  app.delete<{ Params: DeviceParams }>(
    '/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: 'Delete a device: its credentials stop working and its retained desired state is cleared',
        params: DeviceParams,
        response: { 204: Type.Null(), ...errors(403, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const behind = ctx.store.deviceHub(id);
      if (!ctx.store.deleteDevice(id)) throw apiErrors.WF_API_NOT_FOUND({ kind: 'device', id, field: 'params/id' });
      // Before the revocation: a node must refuse the reconnect that follows it.
      await ctx.credentials?.remove(id);
      // Its hub refuses and disconnects it once the site document no longer lists it.
      await ctx.hubs.changed(behind);
      await ctx.link.clearDesired(id);
      // The store no longer verifies its credential; this ends sessions already open [WF-P-T-6].
      await ctx.link.revokeDevice(id);
      ctx.logger.info('device deleted', { deviceId: id });
      return reply.status(204).send();
    },
  );
}
