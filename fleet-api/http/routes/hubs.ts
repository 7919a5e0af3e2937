/**
 * Site hubs (docs/api.md §Hubs, docs/federation.md): provisioning (the hub's MQTT secret is
 * returned once), inventory with each hub's last status, and removal. Every change re-publishes
 * the site documents it touches before the call answers.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { generateSecret, hashSecret } from '../../../common/secrets.js';
import { DEVICE_ID_PATTERN, hubClientId, hubUsername } from '../../../protocol/index.js';
import { apiErrors } from '../../errors.js';
import { hubView } from '../../hubs/views.js';
import type { RouteContext } from '../context.js';
import { Tags, Timestamp, errors } from '../schemas.js';
import { DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS } from './credentials.js';

const HubId = Type.String({ pattern: DEVICE_ID_PATTERN, description: 'like a device id: lowercase letters, digits, . _ -; at most 63 characters' });
const MqttUrl = Type.String({ pattern: '^(mqtts?|wss?)://', maxLength: 300 });

const CreateHubBody = Type.Object(
  {
    id: HubId,
    parent: Type.Optional(HubId),
    urls: Type.Optional(Type.Array(MqttUrl, { maxItems: 32, description: "what devices behind this hub (and child hubs) connect to, e.g. mqtt://hub-north.local:1883" })),
    selector: Type.Optional(Tags),
    devices: Type.Optional(Type.Array(Type.String({ pattern: DEVICE_ID_PATTERN }), { maxItems: 10_000, description: 'devices to put behind it, besides those its selector matches' })),
  },
  { additionalProperties: false },
);
type CreateHubBody = Static<typeof CreateHubBody>;
const HubParams = Type.Object({ id: HubId }, { additionalProperties: false });
type HubParams = Static<typeof HubParams>;

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const HubViewSchema = Type.Object({
  id: Type.String(),
  parent: Nullable(Type.String()),
  urls: Type.Array(Type.String()),
  selector: Type.Record(Type.String(), Type.String()),
  createdAt: Timestamp,
  online: Type.Boolean(),
  uplink: Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Literal('unknown')]),
  lastStatusAt: Nullable(Timestamp),
  siteRevision: Type.Object({ published: Type.Integer(), running: Type.Integer() }),
  backlog: Type.Object({ batches: Type.Integer(), bytes: Type.Integer(), oldestAt: Nullable(Timestamp), oldestAgeSeconds: Type.Union([Type.Integer(), Type.Null()]) }),
  lost: Type.Record(Type.String(), Type.Integer()),
  devices: Type.Object({ total: Type.Integer(), direct: Type.Integer(), connected: Type.Integer(), online: Type.Integer() }),
});

const Provisioned = Type.Object({
  hub: HubViewSchema,
  /** Devices put behind it now (selector matches and those listed). */
  devicesMoved: Type.Integer(),
  upstream: Type.Object({
    urls: Type.Array(Type.String(), { description: "the central broker's, or the parent hub's" }),
    username: Type.String(),
    clientId: Type.String(),
    password: Type.String({ description: 'shown once; only its hash is stored' }),
  }),
});

const RotateBody = Type.Object(
  { graceSeconds: Type.Integer({ minimum: 0, maximum: MAX_GRACE_SECONDS, default: DEFAULT_GRACE_SECONDS, description: 'how long the old secret stays valid unless the hub connects with the new one first; 0 = revoke it now' }) },
  { additionalProperties: false },
);
type RotateBody = Static<typeof RotateBody>;

export async function hubRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.post<{ Params: HubParams; Body: RotateBody }>(
    '/hubs/:id/credentials/rotate',
    {
      schema: {
        tags: ['hubs'],
        summary: "Issue a new MQTT secret for a hub; the old one works until the hub uses the new one or the grace period ends",
        params: HubParams,
        body: RotateBody,
        response: {
          200: Type.Object({ hubId: Type.String(), upstream: Type.Object({ username: Type.String(), password: Type.String({ description: 'shown once' }) }), rotatedAt: Timestamp, previousValidUntil: Type.Union([Timestamp, Type.Null()]) }),
          ...errors(403, 404),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const graceSeconds = request.body?.graceSeconds ?? DEFAULT_GRACE_SECONDS;
      if (!ctx.store.getHub(id)) throw apiErrors.WF_API_NOT_FOUND({ kind: 'hub', id, field: 'params/id' });
      const password = generateSecret('wfh');
      const now = new Date();
      const outcome = ctx.store.rotateHubCredential(id, await hashSecret(password), graceSeconds, now);
      if (!outcome) throw apiErrors.WF_API_NOT_FOUND({ kind: 'hub', id, field: 'params/id' });
      // The replica and its ancestors' site documents (a parent hub admits it from there).
      await ctx.hubs.changed(id);
      // Without grace, a session opened with the old secret must not outlive it [WF-P-T-6]: every
      // broker node closes it (the hub reconnects with the new secret, or is refused).
      if (graceSeconds === 0) await ctx.link.revokeHub(id);
      request.audit = { target: id, detail: { graceSeconds, previousValidUntil: outcome.previousExpiresAt } };
      ctx.logger.info('hub credentials rotated', { hubId: id, graceSeconds });
      return { hubId: id, upstream: { username: hubUsername(id), password }, rotatedAt: now.toISOString(), previousValidUntil: outcome.previousExpiresAt };
    },
  );

  app.post<{ Body: CreateHubBody }>(
    '/hubs',
    {
      schema: {
        tags: ['hubs'],
        summary: 'Provision a site hub; its MQTT password is returned once',
        body: CreateHubBody,
        response: { 201: Provisioned, ...errors(403, 409) },
      },
    },
    async (request, reply) => {
      const { id, parent, urls = [], selector = {}, devices = [] } = request.body;
      if (ctx.store.getHub(id)) throw apiErrors.WF_API_CONFLICT({ reason: `hub '${id}' already exists`, field: 'body/id' });
      const parentHub = parent !== undefined ? ctx.store.getHub(parent) : undefined;
      if (parent !== undefined && !parentHub) throw apiErrors.WF_API_VALIDATION({ field: 'body/parent', reason: `hub '${parent}' does not exist` });
      if (parentHub && parentHub.urls.length === 0) {
        throw apiErrors.WF_API_VALIDATION({ field: 'body/parent', reason: `hub '${parent}' has no urls, so a child hub could not reach it; add the parent with --url` });
      }
      const missing = devices.map((deviceId, index) => ({ deviceId, index })).find(({ deviceId }) => !ctx.store.getDevice(deviceId));
      if (missing) throw apiErrors.WF_API_VALIDATION({ field: `body/devices/${missing.index}`, reason: `device '${missing.deviceId}' does not exist` });
      const password = generateSecret('wfh');
      const credentialHash = await hashSecret(password);
      let created;
      try {
        created = ctx.store.insertHub({ id, parentId: parent ?? null, urls, selector, credentialHash, deviceIds: devices });
      } catch (error) {
        // Two concurrent provisions of one id: the loser lands here after hashing.
        if ((error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw apiErrors.WF_API_CONFLICT({ reason: `hub '${id}' already exists`, field: 'body/id' });
        throw error;
      }
      // The new hub's site, its ancestors' (a new descendant hub, devices now `via` it) and the
      // sites the moved devices left.
      await ctx.hubs.changed(id, ...created.moved.map((move) => move.from));
      request.audit = { target: id, detail: { parent: parent ?? null, selector, devicesMoved: created.moved.length } };
      ctx.logger.info('hub provisioned', { hubId: id, parent: parent ?? null, devicesMoved: created.moved.length });
      ctx.rollouts.nudge();
      return reply.status(201).send({
        hub: hubView(ctx.store, created.hub),
        devicesMoved: created.moved.length,
        upstream: { urls: parentHub ? parentHub.urls : [...ctx.options.publicMqttUrls], username: hubUsername(id), clientId: hubClientId(id), password },
      });
    },
  );

  app.get(
    '/hubs',
    {
      schema: {
        tags: ['hubs'],
        summary: 'Every hub with its uplink state, backlog and the devices behind it',
        response: { 200: Type.Object({ hubs: Type.Array(HubViewSchema) }), ...errors() },
      },
    },
    async () => ({ hubs: ctx.store.listHubs().map((hub) => hubView(ctx.store, hub)) }),
  );

  app.get<{ Params: HubParams }>(
    '/hubs/:id',
    {
      schema: {
        tags: ['hubs'],
        summary: 'One hub with its uplink state, backlog and the devices behind it',
        params: HubParams,
        response: { 200: HubViewSchema, ...errors(404) },
      },
    },
    async (request) => {
      const hub = ctx.store.getHub(request.params.id);
      if (!hub) throw apiErrors.WF_API_NOT_FOUND({ kind: 'hub', id: request.params.id, field: 'params/id' });
      return hubView(ctx.store, hub);
    },
  );

  app.delete<{ Params: HubParams }>(
    '/hubs/:id',
    {
      schema: {
        tags: ['hubs'],
        summary: 'Remove a hub: its credential stops working and the devices behind it move to its parent hub, or back to the central broker',
        params: HubParams,
        response: { 204: Type.Null(), ...errors(403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const outcome = ctx.store.deleteHub(id);
      if (!outcome.deleted && outcome.reason === 'missing') throw apiErrors.WF_API_NOT_FOUND({ kind: 'hub', id, field: 'params/id' });
      if (!outcome.deleted) throw apiErrors.WF_API_HUB_HAS_CHILDREN({ hubId: id, field: 'params/id' });
      // Its own retained site is cleared (it no longer exists); its ancestors' no longer list it,
      // and its parent's lists its devices as its own (they moved there).
      await ctx.hubs.changed(id, outcome.to);
      // Its credential is gone from the store; this ends its session already open [WF-P-T-6].
      await ctx.link.revokeHub(id);
      request.audit = { target: id, detail: { devicesReleased: outcome.devices.length, movedTo: outcome.to } };
      ctx.logger.info('hub removed', { hubId: id, devicesReleased: outcome.devices.length, movedTo: outcome.to });
      ctx.rollouts.nudge();
      return reply.status(204).send();
    },
  );
}
