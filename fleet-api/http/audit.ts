/**
 * The audit hook: every request that could change something (any method but GET/HEAD/OPTIONS)
 * and came with a valid token is recorded after its response, refused and failed attempts
 * included, with who (token id, name, role), what (action from route-roles.ts, method, path,
 * target, status), when, and from where (the socket's remote address). Requests without a valid
 * token are not recorded: they changed nothing and have no author, and recording them would let
 * anyone grow the table; they are logged as warnings instead.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../../common/logger.js';
import type { Store } from '../store/index.js';
import { policyFor } from './route-roles.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a handler that knows better than the request what it changed (e.g. a new id). */
    audit?: { target?: string; detail?: Record<string, unknown> };
  }
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

const str = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

/** What the request is about, from its params first, then from well-known body fields. */
function targetOf(request: FastifyRequest): string | null {
  const params = (request.params ?? {}) as Record<string, unknown>;
  if (str(params.name) && str(params.version)) return `${String(params.name)}@${String(params.version)}`;
  if (str(params.id)) return String(params.id);
  const body = (request.body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || body === null) return null;
  const manifest = body.manifest as Record<string, unknown> | undefined;
  if (manifest && str(manifest.name) && str(manifest.version)) return `${String(manifest.name)}@${String(manifest.version)}`;
  if (str(body.module) && str(body.version)) return `${String(body.module)}@${String(body.version)}`;
  return str(body.id) ?? str(body.name) ?? null;
}

export function installAudit(app: FastifyInstance, store: Store, logger: Logger): void {
  app.addHook('onResponse', async (request, reply) => {
    if (READS.has(request.method)) return;
    const principal = request.principal;
    if (!principal) {
      if (reply.statusCode === 401) logger.warn('unauthenticated change refused', { method: request.method, url: request.url.split('?')[0], remoteAddress: request.ip });
      return;
    }
    const policy = policyFor(request.method, request.routeOptions.url);
    try {
      store.appendAudit({
        actorId: principal.tokenId,
        actorName: principal.name,
        actorRole: principal.role,
        action: policy.action ?? `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
        method: request.method,
        path: request.url.split('?')[0]!,
        target: request.audit?.target ?? targetOf(request),
        status: reply.statusCode,
        remoteAddress: request.ip,
        detail: request.audit?.detail ?? null,
      });
    } catch (error) {
      // The change already happened; losing its record must be loud, not a failed response.
      logger.error('audit entry not written', { method: request.method, url: request.url, error });
    }
  });
}
