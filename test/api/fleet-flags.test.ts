/**
 * Quarantine and hubs on the inventory (issue 15): a module the agent quarantined
 * ([WF-P-T-3b] `quarantined: true` in its reported state) is its own count in
 * `GET /api/v1/fleet/summary` and its own filter in `GET /api/v1/devices`, apart from `faulted`;
 * the summary counts every hub's devices; `?hub=` and `?quarantined=` combine with the other filters;
 * the list and the device carry `faulted` and `quarantined`. Expected values are counted here over
 * the same devices.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReportedModule, ReportedState } from '../../protocol/index.js';
import { startApi } from './helpers/harness.js';

type ModuleShape = 'running' | 'faulting' | 'quarantined';

const reported = (deviceId: string, modules: ModuleShape[]): ReportedState => ({
  v: 1,
  deviceId,
  revision: 1,
  at: new Date().toISOString(),
  agent: { version: '0.1.0', profile: 'sim-x86-64', arch: 'x64' },
  modules: modules.map((shape, i): ReportedModule => ({
    name: `m${i}`,
    version: '1.0.0',
    sha256: 'a'.repeat(64),
    deploymentId: 'dep-1',
    state: shape === 'running' ? 'running' : 'failed',
    faults: shape === 'running' ? 0 : 5,
    batches: 1,
    ...(shape === 'quarantined' ? { reason: 'module m0@1.0.0 quarantined after 5 faults in a row; last: trap: unreachable', quarantined: true as const } : {}),
    ...(shape === 'faulting' ? { reason: 'trap: unreachable' } : {}),
  })),
  errors: [],
});

interface Counts {
  total: number;
  online: number;
  offline: number;
  outOfSync: number;
  faulted: number;
  quarantined: number;
}

test('quarantined devices are counted and filtered apart from faulted ones; hubs are counted and filtered', async (t) => {
  const h = await startApi(t);
  const store = h.api.store;
  for (const hub of ['north', 'south', 'idle']) assert.equal((await h.call('POST', '/api/v1/hubs', { id: hub, urls: [`mqtt://${hub}.local:1883`] })).status, 201);
  const hubs = ['north', 'south', null] as const;
  const expected = new Map<string, Counts>();
  const quarantinedIds: string[] = [];
  const faultedIds: string[] = [];
  for (let i = 0; i < 30; i += 1) {
    const id = `gw-${String(i).padStart(2, '0')}`;
    const hub = hubs[i % 3]!;
    store.insertDevice({ id, profile: 'sim-x86-64', tags: { line: String(i % 2) }, credentialHash: 'x' });
    if (hub) store.setDeviceHub(id, hub);
    const online = i % 4 !== 0;
    if (online) store.setPresence(id, true, new Date().toISOString());
    // Every fifth quarantined (beside a running module), every seventh only faulting (restarting).
    const shapes: ModuleShape[] = i % 5 === 0 ? ['quarantined', 'running'] : i % 7 === 0 ? ['faulting'] : ['running'];
    store.setReported(id, reported(id, shapes));
    const quarantined = shapes.includes('quarantined');
    const faulted = shapes.some((s) => s !== 'running');
    if (quarantined) quarantinedIds.push(id);
    if (faulted) faultedIds.push(id);
    for (const key of ['*', ...(hub ? [`hub:${hub}`] : [])]) {
      const c = expected.get(key) ?? { total: 0, online: 0, offline: 0, outOfSync: 0, faulted: 0, quarantined: 0 };
      c.total += 1;
      c.online += online ? 1 : 0;
      c.offline += online ? 0 : 1;
      c.faulted += faulted ? 1 : 0;
      c.quarantined += quarantined ? 1 : 0;
      expected.set(key, c);
    }
  }
  assert.ok(quarantinedIds.length > 0 && faultedIds.length > quarantinedIds.length, 'the data has both kinds');

  const summary = (await h.call('GET', '/api/v1/fleet/summary')).body;
  assert.equal(summary.quarantined, expected.get('*')!.quarantined);
  assert.equal(summary.faulted, expected.get('*')!.faulted, 'a quarantined module is faulted too');
  assert.deepEqual(
    summary.byHub.map((c: Counts & { hub: string }) => c.hub),
    ['idle', 'north', 'south'],
    'every hub, by id, an empty one included',
  );
  for (const c of summary.byHub as Array<Counts & { hub: string }>) {
    const { hub, ...counts } = c;
    assert.deepEqual(counts, expected.get(`hub:${hub}`) ?? { total: 0, online: 0, offline: 0, outOfSync: 0, faulted: 0, quarantined: 0 }, hub);
  }

  const ids = async (query: string): Promise<string[]> => {
    const res = await h.call('GET', `/api/v1/devices?${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.devices.map((d: { id: string }) => d.id);
  };
  assert.deepEqual(await ids('quarantined=true'), quarantinedIds);
  assert.deepEqual(await ids('faulted=true'), faultedIds);
  assert.deepEqual(await ids('faulted=true&quarantined=false'), faultedIds.filter((id) => !quarantinedIds.includes(id)), 'faulting but still restarting');
  assert.deepEqual(await ids('hub=north'), Array.from({ length: 10 }, (_, k) => `gw-${String(k * 3).padStart(2, '0')}`));
  assert.deepEqual(await ids('hub=south&quarantined=true'), quarantinedIds.filter((id) => Number(id.slice(3)) % 3 === 1));
  assert.deepEqual(await ids('hub=idle'), []);
  assert.deepEqual(await ids('hub=north&sort=-lastSeen&quarantined=true&limit=2').then((l) => l.length), 2, 'with a sort and a page');
  assert.equal((await h.call('GET', '/api/v1/devices?quarantined=maybe')).status, 400);

  const page = (await h.call('GET', '/api/v1/devices?limit=100')).body.devices as Array<{ id: string; hub: string | null; faulted: boolean; quarantined: boolean }>;
  for (const d of page) {
    assert.equal(d.quarantined, quarantinedIds.includes(d.id), d.id);
    assert.equal(d.faulted, faultedIds.includes(d.id), d.id);
    assert.equal(d.hub, hubs[Number(d.id.slice(3)) % 3], d.id);
  }
  const detail = (await h.call('GET', `/api/v1/devices/${quarantinedIds[0]}`)).body;
  assert.equal(detail.quarantined, true);
  assert.equal(detail.reported.modules[0].quarantined, true);
  assert.equal((await h.call('GET', '/api/v1/devices/gw-01')).body.quarantined, false);

  // A new report without the flag (a new desired state replaced the module) clears it.
  store.setReported(quarantinedIds[0]!, reported(quarantinedIds[0]!, ['running']));
  assert.deepEqual(await ids('quarantined=true'), quarantinedIds.slice(1));
  assert.equal((await h.call('GET', '/api/v1/fleet/summary')).body.quarantined, quarantinedIds.length - 1);
});
