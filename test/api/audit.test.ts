/**
 * The audit log: every change (and every refused attempt by a valid token) is recorded with who,
 * what, when and from where, and is queryable over REST with filters, a limit and paging.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenIdOf } from '../../fleet-api/store/index.js';
import { startApi } from './helpers/harness.js';

test('a change is recorded with token id and name, role, action, target, status and remote address', async (t) => {
  const h = await startApi(t, { live: true });
  const operator = h.api.store.createToken('alice', 'operator');
  const before = new Date().toISOString();
  assert.equal((await h.call('POST', '/api/v1/devices', { id: 'gw-01', profile: 'sim-x86-64' }, operator)).status, 201);
  const res = await h.call('GET', '/api/v1/audit');
  assert.equal(res.status, 200);
  const [entry] = res.body.entries;
  assert.equal(entry.actorId, tokenIdOf(operator));
  assert.equal(entry.actorName, 'alice');
  assert.equal(entry.actorRole, 'operator');
  assert.equal(entry.action, 'device.create');
  assert.equal(entry.method, 'POST');
  assert.equal(entry.path, '/api/v1/devices');
  assert.equal(entry.target, 'gw-01');
  assert.equal(entry.status, 201);
  // A real socket over real HTTP: where the request came from.
  assert.equal(entry.remoteAddress, '127.0.0.1');
  assert.ok(entry.at >= before && entry.at <= new Date().toISOString());
  // Reads are not changes.
  assert.ok(res.body.entries.every((e: { method: string }) => e.method !== 'GET'));
});

test('refused attempts are recorded with their author; requests without a valid token are not', async (t) => {
  const h = await startApi(t);
  const viewer = h.api.store.createToken('bob', 'viewer');
  assert.equal((await h.call('DELETE', '/api/v1/devices/gw-01', undefined, viewer)).status, 403);
  assert.equal((await h.call('POST', '/api/v1/devices', { id: 'gw-02', profile: 'sim-x86-64' }, null)).status, 401);
  assert.equal((await h.call('POST', '/api/v1/devices', { id: 'gw-02', profile: 'sim-x86-64' }, 'wft_0000000000000000_' + 'A'.repeat(43))).status, 401);
  const all = (await h.call('GET', '/api/v1/audit')).body.entries;
  // The harness's admin token, made by the platform, is the only other entry.
  assert.deepEqual(all.map((e: { actorName: string }) => e.actorName), ['bob', 'platform']);
  const entries = all.slice(0, 1);
  assert.equal(entries[0].actorName, 'bob');
  assert.equal(entries[0].action, 'device.delete');
  assert.equal(entries[0].target, 'gw-01');
  assert.equal(entries[0].status, 403);
  const failed = (await h.call('GET', '/api/v1/audit?failed=true')).body.entries;
  assert.equal(failed.length, 1);
  assert.deepEqual((await h.call('GET', '/api/v1/audit?failed=false')).body.entries.map((e: { actorName: string }) => e.actorName), ['platform']);
});

test('token creation and revocation are audited without the secret, the first admin token too', async (t) => {
  const h = await startApi(t);
  const created = await h.call('POST', '/api/v1/tokens', { name: 'ci', role: 'viewer' });
  assert.equal((await h.call('DELETE', `/api/v1/tokens/${created.body.id}`)).status, 204);
  const { entries } = (await h.call('GET', '/api/v1/audit?action=token.&actor=admin')).body;
  assert.deepEqual(entries.map((e: { action: string }) => e.action), ['token.revoke', 'token.create']);
  assert.ok(entries.every((e: { target: string }) => e.target === created.body.id));
  assert.deepEqual(entries[1].detail, { name: 'ci', role: 'viewer' });
  assert.ok(!JSON.stringify(entries).includes(created.body.token));
  const [first] = (await h.call('GET', '/api/v1/audit?actor=platform')).body.entries;
  assert.equal(first.action, 'token.create');
  assert.deepEqual(first.detail, { name: 'admin', role: 'admin' });
});

test('filters by actor (id or name), action, target and time; limit pages with nextBefore', async (t) => {
  const h = await startApi(t);
  const alice = h.api.store.createToken('alice', 'operator');
  const carol = h.api.store.createToken('carol', 'operator');
  for (let i = 1; i <= 5; i++) {
    assert.equal((await h.call('POST', '/api/v1/devices', { id: `gw-0${i}`, profile: 'sim-x86-64' }, i % 2 ? alice : carol)).status, 201);
  }
  assert.equal((await h.call('DELETE', '/api/v1/devices/gw-01', undefined, carol)).status, 204);

  const byName = (await h.call('GET', '/api/v1/audit?actor=alice')).body.entries;
  assert.deepEqual(byName.map((e: { target: string }) => e.target), ['gw-05', 'gw-03', 'gw-01']);
  const byId = (await h.call('GET', `/api/v1/audit?actor=${tokenIdOf(carol)}`)).body.entries;
  assert.equal(byId.length, 3);
  assert.equal((await h.call('GET', '/api/v1/audit?action=device.delete')).body.entries.length, 1);
  assert.equal((await h.call('GET', '/api/v1/audit?action=device.')).body.entries.length, 6);
  assert.equal((await h.call('GET', '/api/v1/audit?target=gw-01')).body.entries.length, 2);
  assert.equal((await h.call('GET', '/api/v1/audit?since=2999-01-01T00:00:00Z')).body.entries.length, 0);
  assert.equal((await h.call('GET', '/api/v1/audit?until=2000-01-01T00:00:00Z')).body.entries.length, 0);

  const first = (await h.call('GET', '/api/v1/audit?action=device.&limit=4')).body;
  assert.equal(first.entries.length, 4);
  assert.equal(typeof first.nextBefore, 'number');
  const second = (await h.call('GET', `/api/v1/audit?action=device.&limit=4&before=${first.nextBefore}`)).body;
  assert.equal(second.entries.length, 2);
  assert.equal(second.nextBefore, null);
  const ids = [...first.entries, ...second.entries].map((e: { id: number }) => e.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first, no overlap');
  assert.equal(new Set(ids).size, 6);

  const bad = await h.call('GET', '/api/v1/audit?limit=5000');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.field, 'querystring/limit');
  const badTime = await h.call('GET', '/api/v1/audit?since=yesterday');
  assert.equal(badTime.status, 400);
});

test('only admins read the audit log', async (t) => {
  const h = await startApi(t);
  for (const role of ['viewer', 'operator'] as const) {
    const res = await h.call('GET', '/api/v1/audit', undefined, h.api.store.createToken(role, role));
    assert.equal(res.status, 403);
  }
});
