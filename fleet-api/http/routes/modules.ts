/**
 * Module upload, catalogue and removal. Uploading publishes the retained, content-addressed
 * envelope; deleting a version nothing wants any more clears it (docs/api.md §DELETE module).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ModuleClaim } from '../../store/index.js';
import { apiErrors } from '../../errors.js';
import { registerModule } from '../../modules/register.js';
import type { RouteContext } from '../context.js';
import { DeletedModule, ModuleDetail, ModuleParams, ModuleSummary, UploadModuleBody, errors } from '../schemas.js';

export async function moduleRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.post<{ Body: UploadModuleBody }>(
    '/modules',
    {
      schema: {
        tags: ['modules'],
        summary: 'Upload a module (manifest + base64 wasm + publisher signature); 201 when new, 200 when the identical module exists',
        body: UploadModuleBody,
        response: { 200: ModuleSummary, 201: ModuleSummary, ...errors(403, 409, 413, 422) },
      },
    },
    async (request, reply) => {
      const { manifest, wasm, signatures } = request.body;
      const { module, created } = await registerModule(ctx.store, manifest, wasm, signatures, ctx.signing.trustedKeys().keys);
      // Re-published on identical re-upload too: cheap, and it repairs a broker that lost it.
      await ctx.link.publishModule(module.sha256);
      if (created) ctx.logger.info('module published', { module: module.name, version: module.version, sha256: module.sha256 });
      const { manifest: _manifest, signatures: _signatures, ...summary } = module;
      return reply.status(created ? 201 : 200).send(summary);
    },
  );

  app.get(
    '/modules',
    {
      schema: {
        tags: ['modules'],
        summary: 'List every module version',
        response: { 200: Type.Object({ modules: Type.Array(ModuleSummary) }), ...errors() },
      },
    },
    async () => ({ modules: ctx.store.listModules() }),
  );

  app.get<{ Params: ModuleParams }>(
    '/modules/:name/:version',
    {
      schema: {
        tags: ['modules'],
        summary: 'One module version with its manifest',
        params: ModuleParams,
        response: { 200: ModuleDetail, ...errors(404) },
      },
    },
    async (request) => {
      const { name, version } = request.params;
      const module = ctx.store.getModule(name, version);
      if (!module) throw apiErrors.WF_API_NOT_FOUND({ kind: 'module', id: `${name}@${version}`, field: 'params/version' });
      return module;
    },
  );

  app.delete<{ Params: ModuleParams }>(
    '/modules/:name/:version',
    {
      schema: {
        tags: ['modules'],
        summary: 'Delete a module version no device wants (no active deployment, desired state or rollback target names it), with its finished deployments; its retained envelope is cleared',
        params: ModuleParams,
        response: { 200: DeletedModule, ...errors(403, 404, 409) },
      },
    },
    async (request) => {
      const { name, version } = request.params;
      const outcome = ctx.store.deleteModule(name, version);
      if (!outcome.deleted && outcome.reason === 'missing') throw apiErrors.WF_API_NOT_FOUND({ kind: 'module', id: `${name}@${version}`, field: 'params/version' });
      if (!outcome.deleted) {
        throw apiErrors.WF_API_MODULE_IN_USE({ name, version, reason: describeClaims(outcome.claims), field: 'params/version' });
      }
      // The sha256 column is unique, so no other version shares this envelope: it is cleared.
      await ctx.link.publishModule(outcome.module.sha256);
      request.audit = { target: `${name}@${version}`, detail: { sha256: outcome.module.sha256, deploymentsRemoved: outcome.deploymentsRemoved } };
      ctx.logger.info('module deleted', { module: name, version, sha256: outcome.module.sha256, deploymentsRemoved: outcome.deploymentsRemoved });
      return { ...outcome.module, deploymentsRemoved: outcome.deploymentsRemoved };
    },
  );
}

/** One sentence naming the first claim of each kind, e.g. `deployment dep-1 is running; device gw-1 desires it`. */
function describeClaims(claims: readonly ModuleClaim[]): string {
  const parts: string[] = [];
  const deployment = claims.find((c) => c.kind === 'deployment');
  if (deployment?.kind === 'deployment') parts.push(`deployment ${deployment.deploymentId} is ${deployment.status}`);
  const desired = claims.filter((c) => c.kind === 'desired');
  if (desired[0]?.kind === 'desired') parts.push(`device ${desired[0].deviceId}${desired.length > 1 ? ` and ${desired.length - 1} more` : ''} desire${desired.length > 1 ? '' : 's'} it`);
  const previous = claims.find((c) => c.kind === 'previous');
  if (previous?.kind === 'previous') parts.push(`rolling back deployment ${previous.deploymentId} would put it back on device ${previous.deviceId}`);
  return parts.join('; ');
}
