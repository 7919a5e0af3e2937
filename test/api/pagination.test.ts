import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReportedState } from '../../protocol/index.js';
import { startApi, type Harness } from './helpers/harness.js';
import { provision, upload } from './helpers/fleet.js';

type Page = { devices: Array<{ id: string; lastSeen: string | null }>; nextCursor: string | null };

/** Every page of `query` at `limit` per page, checking each page's size. */
async function walk(h: Harness, query: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url: string = `/api/v1/devices?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await h.call('GET', url);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const body = res.body as Page;
    assert.ok(body.devices.length <= limit);
    if (body.nextCursor !== null) assert.equal(body.devices.length, limit, 'only the last page is short');
    ids.push(...body.devices.map((d) => d.id));
    cursor = body.nextCursor;
    pages += 1;
  } while (cursor !== null);
  return { ids, pages };
}

const reported = (deviceId: string, revision: number, modules: Array<{ state: 'running' | 'failed'; faults: number }>): ReportedState =>
  ({
    v: 1,
    deviceId,
    revision,
    at: new Date().toISOString(),
    agent: { version: '0.1.0', profile: 'sim-x86-64', arch: 'x64' },
    modules: modules.map((m, i) => ({ name: `m${i}`, version: '1.0.0', sha256: 'a'.repeat(64), deploymentId: 'dep-x', batches: 1, ...m })),
    errors: [],
  }) as unknown as ReportedState;

test('devices page by cursor in id order, both directions, with no item twice or skipped', async (t) => {
  const h = await startApi(t);
  const ids = Array.from({ length: 23 }, (_, i) => `gw-${String(i).padStart(2, '0')}`);
  for (const [i, id] of ids.entries()) await provision(h, id, { site: i % 2 === 0 ? 'north' : 'south' });

  const all = await walk(h, 'sort=id', 5);
  assert.deepEqual(all.ids, ids);
  assert.equal(all.pages, 5);
  assert.deepEqual((await walk(h, 'sort=-id', 4)).ids, [...ids].reverse());
  assert.deepEqual((await walk(h, 'tag=site=north', 3)).ids, ids.filter((_, i) => i % 2 === 0));
  assert.deepEqual((await walk(h, 'tag=site=south&sort=-id', 3)).ids, ids.filter((_, i) => i % 2 === 1).reverse());

  const first = await h.call('GET', '/api/v1/devices?limit=10');
  assert.equal(first.body.devices.length, 10);
  // A device added before the position and one deleted after it change nothing else.
  await provision(h, 'gw-00a');
  assert.equal((await h.call('DELETE', '/api/v1/devices/gw-15')).status, 204);
  const rest = await h.call('GET', `/api/v1/devices?limit=100&cursor=${first.body.nextCursor}`);
  assert.deepEqual(rest.body.devices.map((d: { id: string }) => d.id), ids.slice(10).filter((id) => id !== 'gw-15'));
  assert.equal(rest.body.nextCursor, null);
  assert.equal((await h.call('GET', '/api/v1/devices')).body.devices.length, 23, 'default limit 100 holds them all');
});

test('devices filter by profile, online, in sync, faulted and id prefix, and sort by lastSeen with never-seen first', async (t) => {
  const h = await startApi(t);
  for (const id of ['gw_1', 'gw_2', 'gwx3', 'hub-1']) await provision(h, id, { site: 'west' });
  const store = h.api.store;
  store.setPresence('gw_2', true, '2026-01-01T00:00:02.000Z');
  store.setPresence('gwx3', false, '2026-01-01T00:00:01.000Z');
  store.setPresence('hub-1', true, '2026-01-01T00:00:03.000Z');
  store.setReported('gw_1', reported('gw_1', 0, [{ state: 'failed', faults: 0 }]));
  store.setReported('gw_2', reported('gw_2', 0, [{ state: 'running', faults: 2 }]));
  store.setReported('gwx3', reported('gwx3', 0, [{ state: 'running', faults: 0 }]));
  store.db.prepare('UPDATE devices SET desired_revision = 1 WHERE id = ?').run('hub-1');

  const ids = async (query: string) => (await walk(h, query, 2)).ids;
  assert.deepEqual(await ids('idPrefix=gw_'), ['gw_1', 'gw_2'], '_ in a prefix is literal');
  assert.deepEqual(await ids('idPrefix=gw'), ['gw_1', 'gw_2', 'gwx3']);
  assert.deepEqual(await ids('online=true'), ['gw_2', 'hub-1']);
  assert.deepEqual(await ids('online=false&tag=site=west'), ['gw_1', 'gwx3']);
  assert.deepEqual(await ids('faulted=true'), ['gw_1', 'gw_2']);
  assert.deepEqual(await ids('faulted=false'), ['gwx3', 'hub-1']);
  assert.deepEqual(await ids('inSync=false'), ['hub-1']);
  assert.deepEqual(await ids('inSync=true&faulted=true&online=true'), ['gw_2']);
  assert.deepEqual(await ids('profile=sim-x86-64&idPrefix=hub'), ['hub-1']);
  assert.deepEqual(await ids('profile=rpi4-arm64'), []);
  assert.deepEqual(await ids('sort=lastSeen'), ['gw_1', 'gwx3', 'gw_2', 'hub-1']);
  assert.deepEqual(await ids('sort=-lastSeen'), ['hub-1', 'gw_2', 'gwx3', 'gw_1']);
  assert.deepEqual(await ids('sort=createdAt&tag=site=west'), ['gw_1', 'gw_2', 'gwx3', 'hub-1']);
  store.setReported('gw_1', reported('gw_1', 0, [{ state: 'running', faults: 0 }]));
  assert.deepEqual(await ids('faulted=true'), ['gw_2'], 'a clean report clears faulted');
});

test('bad list queries are refused naming the parameter', async (t) => {
  const h = await startApi(t);
  await provision(h, 'gw-01');
  await provision(h, 'gw-02');
  const byId = await h.call('GET', '/api/v1/devices?limit=1');
  const refusals: Array<[string, string]> = [
    ['/api/v1/devices?limit=0', 'querystring/limit'],
    ['/api/v1/devices?limit=1001', 'querystring/limit'],
    ['/api/v1/devices?sort=name', 'querystring/sort'],
    ['/api/v1/devices?idPrefix=GW', 'querystring/idPrefix'],
    ['/api/v1/devices?cursor=not-ours', 'querystring/cursor'],
    [`/api/v1/devices?sort=-lastSeen&cursor=${byId.body.nextCursor}`, 'querystring/cursor'],
    ['/api/v1/deployments?status=sleeping', 'querystring/status/0'],
    [`/api/v1/deployments?cursor=${byId.body.nextCursor}`, 'querystring/cursor'],
  ];
  for (const [url, field] of refusals) {
    const res = await h.call('GET', url);
    assert.equal(res.status, 400, url);
    assert.equal(res.body.error.code, 'WF_API_VALIDATION', url);
    assert.equal(res.body.error.field, field, url);
  }
});

test('deployments page newest first by cursor, filtered by status and module', async (t) => {
  const h = await startApi(t);
  for (const id of ['gw-01', 'gw-02', 'gw-03']) await provision(h, id);
  await upload(h, 'ema', '1.0.0');
  await upload(h, 'zz', '1.0.0');
  const created: string[] = [];
  for (const [module, device] of [['ema', 'gw-01'], ['zz', 'gw-02'], ['ema', 'gw-03'], ['zz', 'gw-01'], ['ema', 'gw-02']] as const) {
    const res = await h.call('POST', '/api/v1/deployments', { module, version: '1.0.0', target: { devices: [device] }, strategy: { canary: 0 } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    created.push(res.body.id);
  }
  const walkDeployments = async (query: string) => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await h.call('GET', `/api/v1/deployments?limit=2&${query}${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      seen.push(...res.body.deployments.map((d: { id: string }) => d.id));
      cursor = res.body.nextCursor;
    } while (cursor !== null);
    return seen;
  };
  assert.deepEqual(await walkDeployments(''), [...created].reverse());
  assert.deepEqual(await walkDeployments('sort=createdAt'), created);
  assert.deepEqual(await walkDeployments('module=ema'), [created[4], created[2], created[0]]);
  assert.deepEqual(await walkDeployments('status=aborted'), []);
  assert.deepEqual(await walkDeployments('status=running&status=completed&module=zz&sort=createdAt'), [created[1], created[3]]);
});
