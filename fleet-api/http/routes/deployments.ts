/**
 * Deployments: a module version rolled out to devices in waves (docs/rollouts.md), their control
 * (pause, resume, cancel, rollback) and each device's deployment history.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createDeployment } from '../../deployments/create.js';
import { waveName } from '../../deployments/strategy.js';
import { apiErrors } from '../../errors.js';
import type { DeploymentDeviceRecord, DeploymentRecord, DeviceDeploymentState } from '../../store/index.js';
import { DEVICE_DEPLOYMENT_STATES } from '../../store/deployments.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import type { RouteContext } from '../context.js';
import {
  ControlParams,
  CreateDeploymentBody,
  DeploymentCreated,
  DeploymentDetail,
  DeploymentListQuery,
  DeploymentParams,
  DeploymentSummary,
  DeviceHistory,
  DeviceParams,
  errors,
} from '../schemas.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Waves with their counts; wave `waves` (one past the plan) holds devices that joined after completion. */
export function waveViews(deployment: DeploymentRecord, devices: DeploymentDeviceRecord[]) {
  const last = Math.max(deployment.waves - 1, ...devices.map((d) => d.wave));
  const views = [];
  for (let index = 0; index <= last; index += 1) {
    const members = devices.filter((d) => d.wave === index);
    const counts = Object.fromEntries(DEVICE_DEPLOYMENT_STATES.map((s) => [s, 0])) as Record<DeviceDeploymentState, number>;
    for (const member of members) counts[member.state] += 1;
    const unsettled = counts.waiting + counts.pending + counts.applied;
    const state = counts.waiting === members.length ? 'waiting' : unsettled > 0 ? 'in progress' : 'done';
    const name = waveName(index, deployment.waves);
    views.push({ index, name, size: members.length, state, counts });
  }
  return views;
}

export async function deploymentRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.post<{ Body: CreateDeploymentBody }>(
    '/deployments',
    {
      schema: {
        tags: ['deployments'],
        summary: 'Roll a module version out to devices by id, tags and/or profile, in waves (see docs/rollouts.md)',
        body: CreateDeploymentBody,
        response: { 201: DeploymentCreated, ...errors(403, 404, 422) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const outcome = createDeployment(ctx.store, body);
      // Stored first, sent second: the first wave leaves in this step, before the response.
      const step = await ctx.rollouts.step();
      const deployment = ctx.store.getDeployment(outcome.id)!;
      ctx.logger.info('deployment created', { deploymentId: outcome.id, module: body.module, version: body.version, devices: outcome.deviceIds.length, waves: outcome.waves });
      return reply.status(201).send({
        id: outcome.id,
        module: deployment.module,
        version: deployment.version,
        sha256: deployment.sha256,
        status: deployment.status,
        devices: outcome.deviceIds.length,
        waves: outcome.waves,
        published: step.acked.get(outcome.id) ?? 0,
      });
    },
  );

  app.get<{ Querystring: DeploymentListQuery }>(
    '/deployments',
    {
      schema: {
        tags: ['deployments'],
        summary: 'One page of deployments (newest first by default) with their status and per-state device counts; nextCursor for the next',
        querystring: DeploymentListQuery,
        response: { 200: Type.Object({ deployments: Type.Array(DeploymentSummary), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...errors() },
      },
    },
    async (request) => {
      const { status, module, sort, limit, cursor } = request.query;
      let afterSeq: number | undefined;
      if (cursor !== undefined) {
        const [seq] = decodeCursor(cursor, sort, 1);
        if (typeof seq !== 'number') throw apiErrors.WF_API_VALIDATION({ field: 'querystring/cursor', reason: 'is not a cursor returned by this API' });
        afterSeq = seq;
      }
      const rows = ctx.store.pageDeployments({ statuses: status, module, ascending: sort === 'createdAt', afterSeq, limit: limit + 1 });
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      const last = page[page.length - 1];
      return {
        deployments: page.map(({ seq: _seq, ...record }) => record),
        nextCursor: more && last ? encodeCursor(sort, [last.seq]) : null,
      };
    },
  );

  app.get<{ Params: DeploymentParams }>(
    '/deployments/:id',
    {
      schema: {
        tags: ['deployments'],
        summary: 'One deployment: its status, each wave, and every device with its state and reason',
        params: DeploymentParams,
        response: { 200: DeploymentDetail, ...errors(404) },
      },
    },
    async (request) => {
      const deployment = ctx.store.getDeployment(request.params.id);
      if (!deployment) throw apiErrors.WF_API_NOT_FOUND({ kind: 'deployment', id: request.params.id, field: 'params/id' });
      return {
        ...deployment,
        waves: waveViews(deployment, deployment.devices),
        devices: deployment.devices.map((d) => ({
          id: d.id,
          wave: d.wave,
          late: d.late,
          state: d.state,
          reason: d.reason,
          revision: d.revision,
          previous: d.previous ? `${d.previous.name}@${d.previous.version}` : null,
          publishedAt: iso(d.publishedAt),
          appliedAt: iso(d.appliedAt),
          updatedAt: d.updatedAt,
        })),
      };
    },
  );

  app.post<{ Params: ControlParams }>(
    '/deployments/:id/:action',
    {
      schema: {
        tags: ['deployments'],
        summary: 'pause | resume | cancel | rollback a deployment (rollback returns every device it reached to its previous entry)',
        params: ControlParams,
        response: { 200: DeploymentSummary, ...errors(403, 404, 409) },
      },
    },
    async (request) => {
      const { id, action } = request.params;
      await ctx.rollouts.control(id, action);
      return ctx.store.getDeployment(id)!;
    },
  );

  app.get<{ Params: DeviceParams }>(
    '/devices/:id/deployments',
    {
      schema: {
        tags: ['deployments'],
        summary: "A device's deployment history, newest first, with each state and reason",
        params: DeviceParams,
        response: { 200: DeviceHistory, ...errors(404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (!ctx.store.getDevice(id)) throw apiErrors.WF_API_NOT_FOUND({ kind: 'device', id, field: 'params/id' });
      return { deviceId: id, deployments: ctx.store.deviceDeploymentHistory(id) };
    },
  );
}
