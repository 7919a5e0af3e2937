/** Module upload and catalogue. Uploading also publishes the retained, content-addressed envelope. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { apiErrors } from '../../errors.js';
import { registerModule } from '../../modules/register.js';
import type { RouteContext } from '../context.js';
import { ModuleDetail, ModuleParams, ModuleSummary, UploadModuleBody, errors } from '../schemas.js';

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
}
