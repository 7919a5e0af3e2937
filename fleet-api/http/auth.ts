/**
 * Bearer-token authentication and role checks for every route, from the one table in
 * route-roles.ts: a route's entry names the least role it needs; a route without an entry needs
 * admin. Tokens are hashed at rest (common/secrets.ts); a verified token is remembered by its sha256 for a few
 * minutes so a busy client does not pay the check on every request, but its row is read on every
 * request, so a revoked token or a changed role takes effect at once. Failures are never cached.
 */
import { hash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { verifySecret } from '../../common/secrets.js';
import { apiErrors } from '../errors.js';
import { roleSatisfies, tokenIdOf, type Store, type TokenRole } from '../store/index.js';
import { policyFor } from './route-roles.js';

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
/** last_used_at is a hint for operators cleaning up tokens; a minute's precision is plenty. */
const TOUCH_EVERY_MS = 60_000;

export function installAuth(app: FastifyInstance, store: Store): void {
  // sha256(token) -> the stored hash it was verified against, and until when that is trusted.
  const verified = new Map<string, { hash: string; until: number }>();
  const touched = new Map<string, number>();

  const authenticate = async (request: FastifyRequest): Promise<TokenPrincipal> => {
    const header = request.headers.authorization;
    if (!header) throw apiErrors.WF_API_UNAUTHORIZED({ reason: 'no Authorization header', field: 'headers/authorization' });
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw apiErrors.WF_API_UNAUTHORIZED({ reason: "Authorization must be 'Bearer <token>'", field: 'headers/authorization' });
    const token = match[1]!;
    const id = tokenIdOf(token);
    const record = id === undefined ? undefined : store.getToken(id);
    if (!record) throw apiErrors.WF_API_UNAUTHORIZED({ reason: 'unknown token', field: 'headers/authorization' });
    // One-shot: no Hash object per request.
    const key = hash('sha256', token);
    const cached = verified.get(key);
    if (!(cached && cached.hash === record.hash && cached.until > Date.now())) {
      if (!(await verifySecret(token, record.hash))) throw apiErrors.WF_API_UNAUTHORIZED({ reason: 'unknown token', field: 'headers/authorization' });
      if (verified.size >= CACHE_MAX) verified.delete(verified.keys().next().value!);
      verified.set(key, { hash: record.hash, until: Date.now() + CACHE_TTL_MS });
    }
    // Checked after the secret, so a revoked token's id cannot be probed without its secret.
    if (record.revokedAt !== null) throw apiErrors.WF_API_UNAUTHORIZED({ reason: `token '${record.id}' was revoked`, field: 'headers/authorization' });
    const now = Date.now();
    if ((touched.get(record.id) ?? 0) + TOUCH_EVERY_MS < now) {
      touched.set(record.id, now);
      store.touchToken(record.id);
    }
    return { tokenId: record.id, name: record.name, role: record.role };
  };

  app.addHook('onRequest', async (request) => {
    const policy = policyFor(request.method, request.routeOptions.url);
    if (policy.role === 'public') return;
    const principal = await authenticate(request);
    // Set before the role check so a refused attempt is audited with its author.
    request.principal = principal;
    if (!roleSatisfies(principal.role, policy.role)) {
      throw apiErrors.WF_API_FORBIDDEN({
        role: principal.role,
        action: `${request.method} ${request.routeOptions.url ?? request.url}`,
        needed: policy.role,
      });
    }
  });
}
