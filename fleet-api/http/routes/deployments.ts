/** Deployments: a module version targeted at devices, turned into retained desired states. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createDeployment } from '../../deployments/create.js';
import { apiErrors } from '../../errors.js';
import type { RouteContext } from '../context.js';
import {
  CreateDeploymentBody,
  DeploymentCreated,
  DeploymentDetail,
  DeploymentParams,
  DeploymentSummary,
  errors,
} from '../schemas.js';

export async function deploymentRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.post<{ Body: CreateDeploymentBody }>(
    '/deployments',
    {
      schema: {
        tags: ['deployments'],
        summary: "Deploy a module version to devices by id, tags and/or profile",
        body: CreateDeploymentBody,
        response: { 201: DeploymentCreated, ...errors(403, 404, 422) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const outcome = createDeployment(ctx.store, body);
      // Stored first, published second: SQLite decides, the broker only mirrors it.
      const acks = await Promise.all(outcome.changed.map((id) => ctx.link.publishDesired(id)));
      const deployment = ctx.store.getDeployment(outcome.id)!;
      ctx.logger.info('deployment created', { deploymentId: outcome.id, module: body.module, version: body.version, devices: outcome.deviceIds.length, changed: outcome.changed.length });
      return reply.status(201).send({
        id: outcome.id,
        module: deployment.module,
        version: deployment.version,
        sha256: deployment.sha256,
        devices: outcome.deviceIds.length,
        changed: outcome.changed.length,
        unchanged: outcome.deviceIds.length - outcome.changed.length,
        published: acks.filter(Boolean).length,
      });
    },
  );

  app.get(
    '/deployments',
    {
      schema: {
        tags: ['deployments'],
        summary: 'List deployments, newest first, with per-state device counts',
        response: { 200: Type.Object({ deployments: Type.Array(DeploymentSummary) }), ...errors() },
      },
    },
    async () => ({ deployments: ctx.store.listDeployments() }),
  );

  app.get<{ Params: DeploymentParams }>(
    '/deployments/:id',
    {
      schema: {
        tags: ['deployments'],
        summary: 'One deployment with the state of every targeted device',
        params: DeploymentParams,
        response: { 200: DeploymentDetail, ...errors(404) },
      },
    },
    async (request) => {
      const deployment = ctx.store.getDeployment(request.params.id);
      if (!deployment) throw apiErrors.WF_API_NOT_FOUND({ kind: 'deployment', id: request.params.id, field: 'params/id' });
      return deployment;
    },
  );
}
