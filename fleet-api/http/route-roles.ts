/**
 * Which role each route needs, in one declarative table (docs/api.md §Roles). Roles are ordered
 * viewer < operator < admin, each holding the rights of the ones before it:
 *   viewer    reads the fleet (devices, results, modules, deployments, jobs)
 *   operator  changes the fleet (devices, credentials, modules, deployments)
 *   admin     administers access (tokens, signing keys, the audit log)
 * A route missing from this table needs admin (default deny for everyone else), and
 * test/api/roles.test.ts fails for any registered route without an entry, so a new route cannot
 * ship without a decision here. Keys are `METHOD path` as Fastify registers them (HEAD follows GET).
 *
 * `action` names the change in the audit log for every route that is not a read; `body: 'large'`
 * gives a route the larger body limit (`largeBodyLimitBytes`) instead of the small default
 * (`bodyLimitBytes`).
 */
import type { TokenRole } from '../store/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route as registered (method, full url), for the role table's completeness test. */
    readonly registeredRoutes: ReadonlyArray<{ method: string; url: string }>;
  }
}

export type RouteRole = TokenRole | 'public';

export interface RoutePolicy {
  readonly role: RouteRole;
  /** Audit action for routes that change something. */
  readonly action?: string;
  readonly body?: 'large';
}

const P = '/api/v1';

export const ROUTE_ROLES: Readonly<Record<string, RoutePolicy>> = Object.freeze({
  'GET /openapi.json': { role: 'public' },
  // The operator console's page and its assets (http/console.ts): it signs in with a token itself.
  'GET /': { role: 'public' },
  'GET /assets/:file': { role: 'public' },
  [`GET ${P}/whoami`]: { role: 'viewer' },
  [`GET ${P}/fleet/summary`]: { role: 'viewer' },
  [`GET ${P}/health`]: { role: 'public' },
  // Prometheus scrapes with a viewer token (docs/metrics.md).
  'GET /metrics': { role: 'viewer' },
  [`GET ${P}/jobs`]: { role: 'viewer' },

  [`GET ${P}/devices`]: { role: 'viewer' },
  [`GET ${P}/devices/:id`]: { role: 'viewer' },
  [`GET ${P}/devices/:id/results`]: { role: 'viewer' },
  [`GET ${P}/results/aggregate`]: { role: 'viewer' },
  [`GET ${P}/events`]: { role: 'viewer' },
  [`POST ${P}/devices`]: { role: 'operator', action: 'device.create' },
  [`POST ${P}/devices/batch`]: { role: 'operator', action: 'device.create-batch', body: 'large' },
  [`DELETE ${P}/devices/:id`]: { role: 'operator', action: 'device.delete' },
  [`PATCH ${P}/devices/:id`]: { role: 'operator', action: 'device.update' },
  [`GET ${P}/devices/:id/deployments`]: { role: 'viewer' },
  [`POST ${P}/devices/:id/credentials/rotate`]: { role: 'operator', action: 'device.rotate-credentials' },

  [`GET ${P}/hubs`]: { role: 'viewer' },
  [`GET ${P}/hubs/:id`]: { role: 'viewer' },
  [`POST ${P}/hubs`]: { role: 'operator', action: 'hub.create' },
  [`DELETE ${P}/hubs/:id`]: { role: 'operator', action: 'hub.delete' },
  [`POST ${P}/hubs/:id/credentials/rotate`]: { role: 'operator', action: 'hub.rotate-credentials' },

  [`GET ${P}/modules`]: { role: 'viewer' },
  [`GET ${P}/modules/:name/:version`]: { role: 'viewer' },
  [`POST ${P}/modules`]: { role: 'operator', action: 'module.upload', body: 'large' },
  [`DELETE ${P}/modules/:name/:version`]: { role: 'operator', action: 'module.delete' },

  [`GET ${P}/deployments`]: { role: 'viewer' },
  [`GET ${P}/deployments/:id`]: { role: 'viewer' },
  [`POST ${P}/deployments`]: { role: 'operator', action: 'deployment.create', body: 'large' },
  // pause, resume, cancel, rollback: the audit row's path names which.
  [`POST ${P}/deployments/:id/:action`]: { role: 'operator', action: 'deployment.control' },

  [`GET ${P}/tokens`]: { role: 'admin' },
  [`POST ${P}/tokens`]: { role: 'admin', action: 'token.create' },
  [`DELETE ${P}/tokens/:id`]: { role: 'admin', action: 'token.revoke' },
  [`GET ${P}/audit`]: { role: 'admin' },
  [`GET ${P}/keys`]: { role: 'admin' },
  [`POST ${P}/keys`]: { role: 'admin', action: 'key.trust' },
  [`DELETE ${P}/keys/:keyId`]: { role: 'admin', action: 'key.revoke' },
  [`POST ${P}/keys/fleet/rotate`]: { role: 'admin', action: 'key.rotate-fleet' },
  [`PUT ${P}/keys/trusted`]: { role: 'admin', action: 'key.trusted-list', body: 'large' },
});

/** A route without an entry: only admin, and audited under its method and path. */
const UNLISTED: RoutePolicy = Object.freeze({ role: 'admin' });

export const routeKey = (method: string, url: string): string => `${method === 'HEAD' ? 'GET' : method} ${url}`;

export function policyFor(method: string, url: string | undefined): RoutePolicy & { listed: boolean } {
  const policy = url === undefined ? undefined : ROUTE_ROLES[routeKey(method, url)];
  return policy ? { ...policy, listed: true } : { ...UNLISTED, listed: false };
}
