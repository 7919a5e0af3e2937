/**
 * Role tests for every route, driven by the routes the app actually registers: a route without an
 * entry in http/route-roles.ts fails here, and so does an entry whose route no longer exists.
 * Each route is then called with a viewer, an operator and an admin token (and none): a role
 * below the entry's gets 403 WF_API_FORBIDDEN before anything runs; a sufficient one gets past
 * the check (its status is whatever the handler answers to placeholder input, never 401/403).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTE_ROLES, routeKey } from '../../fleet-api/http/route-roles.js';
import { TOKEN_ROLES, roleSatisfies, type TokenRole } from '../../fleet-api/store/index.js';
import { startApi, type Harness } from './helpers/harness.js';

/** Placeholder values that satisfy every param pattern (device, token and deployment ids alike). */
const PLACEHOLDERS: Record<string, string> = { id: '0123456789abcdef', name: 'ema', version: '1.0.0' };

const STREAMS = new Set(['/api/v1/events']);
const fill = (url: string): string => url.replace(/:([A-Za-z]+)/g, (_match, name: string) => PLACEHOLDERS[name] ?? 'x');

async function tokensByRole(h: Harness): Promise<Record<TokenRole, string>> {
  const tokens = {} as Record<TokenRole, string>;
  for (const role of TOKEN_ROLES) tokens[role] = h.api.store.createToken(`test-${role}`, role);
  return tokens;
}

const routesOf = (h: Harness) => h.api.app.registeredRoutes.filter((route) => route.method !== 'HEAD');

test('every registered route has an entry in the role table, and every entry a route', async (t) => {
  const h = await startApi(t);
  const registered = new Set(routesOf(h).map((route) => routeKey(route.method, route.url)));
  assert.ok(registered.size >= 19, `expected the whole API, saw ${registered.size} routes`);
  const missing = [...registered].filter((key) => !(key in ROUTE_ROLES));
  assert.deepEqual(missing, [], 'add these routes to fleet-api/http/route-roles.ts');
  const stale = Object.keys(ROUTE_ROLES).filter((key) => !registered.has(key));
  assert.deepEqual(stale, [], 'these role entries name no route');
  for (const [key, policy] of Object.entries(ROUTE_ROLES)) {
    const isRead = key.startsWith('GET ');
    if (!isRead) assert.ok(policy.action, `${key} changes something and needs an audit action`);
  }
});

test('each route answers 403 to a role below its entry and lets a sufficient role through', async (t) => {
  const h = await startApi(t);
  const tokens = await tokensByRole(h);
  const checked: string[] = [];
  for (const route of routesOf(h)) {
    const policy = ROUTE_ROLES[routeKey(route.method, route.url)]!;
    // A stream never ends under inject(); a query it refuses (400) shows the role check let it through.
    const path = fill(route.url) + (STREAMS.has(route.url) ? '?sampleMs=-1' : '');
    const body = route.method === 'POST' ? {} : undefined;
    const anonymous = await h.call(route.method, path, body, null);
    if (policy.role === 'public') {
      // A placeholder asset name is a 404 of its own; public means no token is asked for.
      assert.ok(anonymous.status !== 401 && anonymous.status !== 403, `${route.method} ${route.url} is public`);
      continue;
    }
    assert.equal(anonymous.status, 401, `${route.method} ${route.url} without a token`);
    for (const role of TOKEN_ROLES) {
      const res = await h.call(route.method, path, body, tokens[role]);
      const label: string = `${role} on ${route.method} ${route.url} (needs ${policy.role}): ${JSON.stringify(res.body)}`;
      if (roleSatisfies(role, policy.role)) {
        assert.ok(res.status !== 401 && res.status !== 403, label);
      } else {
        assert.equal(res.status, 403, label);
        assert.equal(res.body.error.code, 'WF_API_FORBIDDEN', label);
        assert.match(res.body.error.message, new RegExp(`needs role '${policy.role}'`));
      }
    }
    checked.push(routeKey(route.method, route.url));
  }
  assert.ok(checked.length >= 17);
});

test('the table gives viewers reads, operators fleet changes, admins access control', () => {
  for (const [key, policy] of Object.entries(ROUTE_ROLES)) {
    if (policy.role === 'public') {
      assert.ok(['GET /openapi.json', 'GET /api/v1/health', 'GET /', 'GET /assets/:file'].includes(key), `${key} must not be public`);
      continue;
    }
    const access = /\/(tokens|keys|audit)(\/|$)/.test(key);
    if (access) assert.equal(policy.role, 'admin', `${key} is access control`);
    else if (key.startsWith('GET ')) assert.equal(policy.role, 'viewer', `${key} is a read`);
    else assert.equal(policy.role, 'operator', `${key} changes the fleet`);
  }
});

test('an unknown route is denied to viewers and operators and is a 404 only for admins', async (t) => {
  const h = await startApi(t);
  const tokens = await tokensByRole(h);
  for (const [method, path] of [['GET', '/api/v1/secret-things'], ['POST', '/api/v1/devices/gw-01/reboot'], ['DELETE', '/api/v1']] as const) {
    for (const role of ['viewer', 'operator'] as const) {
      const res = await h.call(method, path, undefined, tokens[role]);
      assert.equal(res.status, 403, `${role} ${method} ${path}`);
      assert.equal(res.body.error.code, 'WF_API_FORBIDDEN');
    }
    const admin = await h.call(method, path, undefined, tokens.admin);
    assert.equal(admin.status, 404);
    assert.equal(admin.body.error.code, 'WF_API_ROUTE_NOT_FOUND');
  }
});

test('tokens are created, listed and revoked over the API; a revoked token stops at once', async (t) => {
  const h = await startApi(t);
  const created = await h.call('POST', '/api/v1/tokens', { name: 'ci-deployer', role: 'operator' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.match(created.body.token, /^wft_[0-9a-f]{16}_/);
  assert.equal(created.body.role, 'operator');
  const operator = created.body.token as string;
  assert.equal((await h.call('POST', '/api/v1/devices', { id: 'gw-01', profile: 'sim-x86-64' }, operator)).status, 201);
  // Cached verification must not outlive the revocation.
  assert.equal((await h.call('GET', '/api/v1/devices', undefined, operator)).status, 200);

  const listed = await h.call('GET', '/api/v1/tokens');
  assert.equal(listed.status, 200);
  const row = listed.body.tokens.find((token: { id: string }) => token.id === created.body.id);
  assert.equal(row.name, 'ci-deployer');
  assert.equal(row.revokedAt, null);
  assert.ok(!JSON.stringify(listed.body).includes(operator), 'no token secret in the list');
  assert.ok(!JSON.stringify(listed.body).includes('scrypt$'), 'no hash in the list');

  assert.equal((await h.call('DELETE', `/api/v1/tokens/${created.body.id}`)).status, 204);
  const after = await h.call('GET', '/api/v1/devices', undefined, operator);
  assert.equal(after.status, 401);
  assert.match(after.body.error.message, /revoked/);
  assert.equal((await h.call('DELETE', `/api/v1/tokens/${created.body.id}`)).status, 409);
  const active = await h.call('GET', '/api/v1/tokens?revoked=false');
  assert.ok(active.body.tokens.every((token: { revokedAt: unknown }) => token.revokedAt === null));
});

test('the last active admin token cannot be revoked; an operator cannot mint tokens', async (t) => {
  const h = await startApi(t);
  const [admin] = h.api.store.listTokens().filter((token) => token.role === 'admin');
  const last = await h.call('DELETE', `/api/v1/tokens/${admin!.id}`);
  assert.equal(last.status, 409);
  assert.match(last.body.error.message, /last active admin token/);
  const operator = h.api.store.createToken('ops', 'operator');
  const escalate = await h.call('POST', '/api/v1/tokens', { name: 'mine', role: 'admin' }, operator);
  assert.equal(escalate.status, 403);
  const bad = await h.call('POST', '/api/v1/tokens', { name: 'x', role: 'root' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.field.startsWith('body/role'), true);
});

test("a database from before the three roles keeps its tokens: 'read' becomes viewer", async (t) => {
  const { default: Database } = await import('better-sqlite3');
  const { MIGRATIONS } = await import('../../fleet-api/store/migrations.js');
  const { openStore } = await import('../../fleet-api/index.js');
  const { tempDir } = await import('./helpers/harness.js');
  const path = `${tempDir(t)}/old.db`;
  const db = new Database(path);
  db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);');
  db.exec(MIGRATIONS[0]!);
  db.prepare("INSERT INTO api_tokens VALUES ('00000000000000aa', 'old-reader', 'read', 'scrypt$x', '2026-01-01T00:00:00.000Z')").run();
  db.close();
  const store = openStore(path);
  t.after(() => store.close());
  assert.equal(store.getToken('00000000000000aa')?.role, 'viewer');
});
