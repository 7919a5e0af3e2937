/**
 * Bearer-token authentication for every route not marked `config: { public: true }`.
 * Tokens are scrypt-hashed at rest; a verified token is cached by its sha256 for a few minutes
 * so a busy client does not pay scrypt on every request. Failures are never cached.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { verifySecret } from '../../common/secrets.js';
import { apiErrors } from '../errors.js';
import { tokenIdOf, type Store, type TokenRole } from '../store/index.js';

export interface TokenPrincipal {
  tokenId: string;
  name: string;
  role: TokenRole;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: TokenPrincipal;
  }
  interface FastifyContextConfig {
    public?: boolean;
  }
}

const CACHE_TTL_MS = 5 * 60_000;
const CACHE_MAX = 1000;
const READ_METHODS = new Set(['GET', 'HEAD']);

export function installAuth(app: FastifyInstance, store: Store): void {
  const cache = new Map<string, { principal: TokenPrincipal; until: number }>();

  const authenticate = async (request: FastifyRequest): Promise<TokenPrincipal> => {
    const header = request.headers.authorization;
    if (!header) throw apiErrors.WF_API_UNAUTHORIZED({ reason: 'no Authorization header', field: 'headers/authorization' });
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw apiErrors.WF_API_UNAUTHORIZED({ reason: "Authorization must be 'Bearer <token>'", field: 'headers/authorization' });
    const token = match[1]!;
    const key = createHash('sha256').update(token).digest('hex');
    const cached = cache.get(key);
    if (cached && cached.until > Date.now()) return cached.principal;
    const id = tokenIdOf(token);
    const record = id === undefined ? undefined : store.getToken(id);
    if (!record || !(await verifySecret(token, record.hash))) {
      throw apiErrors.WF_API_UNAUTHORIZED({ reason: 'unknown token', field: 'headers/authorization' });
    }
    const principal: TokenPrincipal = { tokenId: record.id, name: record.name, role: record.role };
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(key, { principal, until: Date.now() + CACHE_TTL_MS });
    return principal;
  };

  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config?.public === true) return;
    const principal = await authenticate(request);
    if (principal.role !== 'admin' && !READ_METHODS.has(request.method)) {
      throw apiErrors.WF_API_FORBIDDEN({ role: principal.role, action: `${request.method} ${request.routeOptions.url ?? request.url}` });
    }
    request.principal = principal;
  });
}
