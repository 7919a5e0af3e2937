/**
 * The Fastify application: strict request validation (unknown properties are errors, not
 * silently dropped), one error shape, bearer auth, and the OpenAPI document built from the
 * route schemas.
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { RouteContext } from './context.js';
import { installAudit } from './audit.js';
import { installAuth } from './auth.js';
import { policyFor } from './route-roles.js';
import { auditRoutes } from './routes/audit.js';
import { credentialRoutes } from './routes/credentials.js';
import { tokenRoutes } from './routes/tokens.js';
import { clientErrorHandler, frameworkErrorHandler, installErrorHandling, MAX_PARAM_LENGTH } from './error-handler.js';
import { installBoundedClose } from './bounded-close.js';
import { ErrorResponse } from './schemas.js';
import { deploymentRoutes } from './routes/deployments.js';
import { deviceRoutes } from './routes/devices.js';
import { hubRoutes } from './routes/hubs.js';
import { deviceBatchRoutes } from './routes/device-batch.js';
import { keyRoutes } from './routes/keys.js';
import { moduleRoutes } from './routes/modules.js';
import { resultRoutes } from './routes/results.js';
import { systemRoutes } from './routes/system.js';
import { whoamiRoutes } from './routes/whoami.js';
import { fleetSummaryRoutes } from './routes/fleet-summary.js';
import { consoleRoutes } from './console.js';
import { metricsText } from '../../common/metrics.js';
import { httpDuration } from '../metrics.js';
import { aggregateRoutes } from './routes/aggregate.js';
import { eventRoutes } from './routes/events.js';

export const API_PREFIX = '/api/v1';

export async function buildApp(ctx: RouteContext): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: ctx.options.bodyLimitBytes,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // The framework's and Node's own refusals answer in our error shape too (docs/api.md).
    frameworkErrors: frameworkErrorHandler(ctx.options),
    clientErrorHandler,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  });
  app.addSchema(ErrorResponse);
  await app.register(swagger, {
    // Keeps shared schemas under their own $id (ErrorResponse) instead of def-0, def-1, ...
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    openapi: {
      openapi: '3.0.3',
      info: { title: 'wasmfleet fleet API', version: ctx.version, description: 'Inventory, modules, deployments and results. See docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  installErrorHandling(app, ctx.logger, ctx.options);
  installBoundedClose(app);
  installAuth(app, ctx.store);
  installAudit(app, ctx.store, ctx.logger);
  // Body limits come from the same table as roles: small by default, large where it says so.
  const registered: Array<{ method: string; url: string }> = [];
  app.decorate('registeredRoutes', registered);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) registered.push({ method, url: route.url });
    if (methods.some((method) => policyFor(method, route.url).body === 'large')) route.bodyLimit = ctx.options.largeBodyLimitBytes;
  });

  // The operator console at `/` (outside the API prefix, so /api keeps its JSON 404s).
  await consoleRoutes(app);
  // Open event streams end first, or closing the server would wait for them.
  app.addHook('preClose', async () => ctx.events.streams.closeAll());

  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL, so the label stays bounded.
    httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const { contentType, body } = await metricsText();
    return reply.type(contentType).send(body);
  });
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  await app.register(
    async (scope) => {
      await systemRoutes(scope, ctx);
      await deviceRoutes(scope, ctx);
      await deviceBatchRoutes(scope, ctx);
      await hubRoutes(scope, ctx);
      await resultRoutes(scope, ctx);
      await aggregateRoutes(scope, ctx);
      await eventRoutes(scope, ctx);
      await moduleRoutes(scope, ctx);
      await deploymentRoutes(scope, ctx);
      await credentialRoutes(scope, ctx);
      await tokenRoutes(scope, ctx);
      await auditRoutes(scope, ctx);
      await keyRoutes(scope, ctx);
      await whoamiRoutes(scope, ctx);
      await fleetSummaryRoutes(scope, ctx);
    },
    { prefix: API_PREFIX },
  );
  return app;
}
