/** Health, scheduled jobs and the OpenAPI document. */
import type { FastifyInstance } from 'fastify';
import { PROTOCOL_VERSION } from '../../../protocol/index.js';
import type { RouteContext } from '../context.js';
import { Health, JobList, errors } from '../schemas.js';

export async function systemRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: { tags: ['system'], summary: 'Liveness and MQTT link state (no token needed)', security: [], response: { 200: Health } },
    },
    async () => ({
      status: 'ok' as const,
      mqtt: ctx.link.connected ? ('connected' as const) : ('disconnected' as const),
      version: ctx.version,
      protocol: PROTOCOL_VERSION,
    }),
  );

  app.get(
    '/jobs',
    {
      schema: { tags: ['system'], summary: 'Scheduled jobs with their schedule, next and last run', response: { 200: JobList, ...errors() } },
    },
    async () => ({ jobs: ctx.jobs.list() }),
  );
}
