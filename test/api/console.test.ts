/**
 * The console at `/` (fleet-api/http/console.ts), `GET /api/v1/whoami` and
 * `GET /api/v1/fleet/summary`: the page and its hashed assets with their content types and cache
 * headers, gzip when asked, unknown assets and unknown /api paths still JSON 404s; whoami names
 * each token's role; the summary counts agree with a count done here over the same devices.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { consoleRoutes } from '../../fleet-api/http/console.js';
import { TOKEN_ROLES } from '../../fleet-api/store/index.js';
import type { ReportedState } from '../../protocol/index.js';
import { startApi, tempDir } from './helpers/harness.js';

test('the page is never cached, assets are immutable and gzipped on request, unknown assets 404', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/main-ABC.js"></script>');
  const script = 'console.log("hello");'.repeat(50);
  writeFileSync(join(dir, 'assets', 'main-ABC.js'), script);
  writeFileSync(join(dir, 'assets', 'main-ABC.css'), 'body{}');
  writeFileSync(join(dir, 'assets', 'notes.txt'), 'not an asset type');
  const app = Fastify();
  await consoleRoutes(app, dir);
  t.after(() => app.close());

  const page = await app.inject({ url: '/' });
  assert.equal(page.statusCode, 200);
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(page.headers['cache-control'], 'no-cache');
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  assert.match(page.body, /main-ABC\.js/);

  const plain = await app.inject({ url: '/assets/main-ABC.js' });
  assert.equal(plain.statusCode, 200);
  assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.match(String(plain.headers['cache-control']), /immutable/);
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.body, script);

  const zipped = await app.inject({ url: '/assets/main-ABC.js', headers: { 'accept-encoding': 'gzip, br' } });
  assert.equal(zipped.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(zipped.rawPayload).toString(), script);
  assert.ok(zipped.rawPayload.length < script.length);

  assert.equal((await app.inject({ url: '/assets/main-ABC.css' })).headers['content-type'], 'text/css; charset=utf-8');
  assert.equal((await app.inject({ url: '/assets/notes.txt' })).statusCode, 404);
  assert.equal((await app.inject({ url: '/assets/missing.js' })).statusCode, 404);
  assert.equal((await app.inject({ url: '/assets/..%2Findex.html' })).statusCode, 404);
});

test('a folder without a built console answers a page saying how to build it', async (t) => {
  const app = Fastify();
  await consoleRoutes(app, tempDir(t));
  t.after(() => app.close());
  const page = await app.inject({ url: '/' });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /npm run build:console/);
});

test('in the API, / needs no token while unknown paths under /api stay JSON errors', async (t) => {
  const h = await startApi(t);
  const page = await h.call('GET', '/', undefined, null);
  assert.equal(page.status, 200);
  assert.equal(typeof page.body, 'string');
  const unknownAsset = await h.call('GET', '/assets/nothing-here.js', undefined, null);
  assert.equal(unknownAsset.status, 404);
  assert.equal(unknownAsset.body.error.code, 'WF_API_ROUTE_NOT_FOUND');
  const unknownApi = await h.call('GET', '/api/v1/no-such-route');
  assert.equal(unknownApi.status, 404);
  assert.equal(unknownApi.body.error.code, 'WF_API_ROUTE_NOT_FOUND');
});

test('whoami names the calling token and its role; without a token it is 401', async (t) => {
  const h = await startApi(t);
  for (const role of TOKEN_ROLES) {
    const token = h.api.store.createToken(`who-${role}`, role);
    const res = await h.call('GET', '/api/v1/whoami', undefined, token);
    assert.equal(res.status, 200);
    assert.equal(res.body.name, `who-${role}`);
    assert.equal(res.body.role, role);
    assert.match(res.body.tokenId, /^[0-9a-f]{16}$/);
  }
  assert.equal((await h.call('GET', '/api/v1/whoami', undefined, null)).status, 401);
});

const reported = (deviceId: string, revision: number, states: Array<'running' | 'failed'>, errors = 0): ReportedState => ({
  v: 1,
  deviceId,
  revision,
  at: new Date().toISOString(),
  agent: { version: '0.1.0', profile: 'sim-x86-64', arch: 'x64' },
  modules: states.map((state, i) => ({ name: `m${i}`, version: '1.0.0', sha256: 'a'.repeat(64), deploymentId: 'dep-1', state, faults: state === 'failed' ? 3 : 0, batches: 1 })),
  errors: Array.from({ length: errors }, () => ({ code: 'WF_X', message: 'refused' })),
});

test('the fleet summary counts online, offline, out of sync and faulted in total, by profile and by tag', async (t) => {
  const h = await startApi(t);
  const store = h.api.store;
  const profiles = ['sim-x86-64', 'sim-arm64'];
  const expected = new Map<string, { total: number; online: number; outOfSync: number; faulted: number }>();
  const bump = (key: string, online: boolean, outOfSync: boolean, faulted: boolean) => {
    const entry = expected.get(key) ?? { total: 0, online: 0, outOfSync: 0, faulted: 0 };
    entry.total += 1;
    entry.online += online ? 1 : 0;
    entry.outOfSync += outOfSync ? 1 : 0;
    entry.faulted += faulted ? 1 : 0;
    expected.set(key, entry);
  };
  for (let i = 0; i < 40; i += 1) {
    const id = `gw-${String(i).padStart(2, '0')}`;
    const profile = profiles[i % 2]!;
    const tags = { site: i % 3 === 0 ? 'north' : 'south', line: String(i % 4) };
    store.insertDevice({ id, profile, tags, credentialHash: 'x' });
    const online = i % 5 !== 0;
    if (online) store.setPresence(id, true, new Date().toISOString());
    // Desired revision 2 for all; some report 2 (in sync), some 1; some with a failed module or a device error.
    store.db.prepare('UPDATE devices SET desired_revision = 2 WHERE id = ?').run(id);
    const revision = i % 4 === 0 ? 1 : 2;
    const failed = i % 7 === 0;
    const deviceError = i % 11 === 0;
    if (i % 6 !== 5) store.setReported(id, reported(id, revision, failed ? ['running', 'failed'] : ['running'], deviceError ? 1 : 0));
    const outOfSync = i % 6 === 5 || revision < 2;
    // A device-level error alone is not a fault (as GET /devices?faulted=true); a failed module is.
    const faulted = i % 6 !== 5 && failed;
    for (const key of ['*', `profile:${profile}`, `tag:site=${tags.site}`, `tag:line=${tags.line}`]) bump(key, online, outOfSync, faulted);
  }
  const res = await h.call('GET', '/api/v1/fleet/summary');
  assert.equal(res.status, 200);
  const summary = res.body;
  const pick = (c: { total: number; online: number; offline: number; outOfSync: number; faulted: number }) => {
    assert.equal(c.offline, c.total - c.online);
    return { total: c.total, online: c.online, outOfSync: c.outOfSync, faulted: c.faulted };
  };
  assert.deepEqual(pick(summary), expected.get('*'));
  assert.equal(summary.byProfile.length, 2);
  for (const p of summary.byProfile) assert.deepEqual(pick(p), expected.get(`profile:${p.profile}`), p.profile);
  assert.equal(summary.tagPairs, 6);
  assert.equal(summary.byTag.length, 6);
  for (const tag of summary.byTag) assert.deepEqual(pick(tag), expected.get(`tag:${tag.key}=${tag.value}`), `${tag.key}=${tag.value}`);
  // Most common pairs first, and the cap is honoured.
  assert.equal(summary.byTag[0].key, 'site');
  assert.equal(summary.byTag[0].value, 'south');
  const capped = await h.call('GET', '/api/v1/fleet/summary?tags=2');
  assert.equal(capped.body.byTag.length, 2);
  assert.equal(capped.body.tagPairs, 6);
  assert.equal((await h.call('GET', '/api/v1/fleet/summary?tags=-1')).status, 400);
});
