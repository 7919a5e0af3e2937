/**
 * The inventory page's SQL (store/device-pages.ts): what a profile and EXPLAIN QUERY PLAN found
 * (docs/operations.md, inventory p99), held here so a later edit does not quietly undo it.
 *  - No bare `LIMIT ?` or `LIKE ?` parameter: SQLite lets those values steer the plan and so
 *    re-prepares the whole statement on every run (a tenth of the API thread under load). The
 *    re-prepare itself is not visible from JavaScript, so the text is checked.
 *  - The tag-filtered page in id order (the one issue 16 measures) walks the tag index in order,
 *    cursor or not: no sort after the filter, no scan of the inventory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { openStore } from '../../fleet-api/index.js';
import { DEVICE_SORTS, type DevicePageQuery } from '../../fleet-api/store/index.js';
import { tempDir } from './helpers/harness.js';

const SITES = ['north', 'south', 'east', 'west'];

function storeWithDevices(t: TestContext) {
  const store = openStore(join(tempDir(t), 'fleet.db'));
  t.after(() => store.close());
  store.insertDevices(
    Array.from({ length: 400 }, (_, i) => ({ id: `gw-${String(i).padStart(4, '0')}`, profile: 'sim-x86-64', tags: { site: SITES[i % 4]!, line: String(i % 7) }, credentialHash: 'h' })),
  );
  // Every statement the page functions prepare, in order.
  const prepared: string[] = [];
  const prepare = store.db.prepare.bind(store.db);
  store.db.prepare = ((sql: string) => {
    prepared.push(sql);
    return prepare(sql);
  }) as typeof store.db.prepare;
  return { store, prepared, prepare };
}

test('no page query binds a bare LIMIT or LIKE parameter, whatever its sort, filters and cursor', (t) => {
  const { store, prepared } = storeWithDevices(t);
  const filters: Array<Partial<DevicePageQuery>> = [
    {},
    { tags: { site: 'north' } },
    { tags: { site: 'north', line: '3' } },
    { profile: 'sim-x86-64' },
    { online: true, inSync: false, faulted: false, quarantined: false },
    { idPrefix: 'gw-00' },
    { hub: 'h1' },
  ];
  for (const sort of DEVICE_SORTS) {
    for (const filter of filters) {
      for (const after of [undefined, { key: '2026-01-01T00:00:00.000Z', id: 'gw-0100' }]) {
        const query: DevicePageQuery = { sort, ...filter, after, limit: 5 };
        store.pageDevices(query);
        store.pageDevicesJson(query, new Set());
        store.pageDevicesJson(query, new Set(['h1']));
      }
    }
  }
  assert.ok(prepared.length >= DEVICE_SORTS.length * filters.length, `${prepared.length} statements prepared`);
  for (const sql of prepared) {
    assert.doesNotMatch(sql, /LIMIT \?(?!\s*\+)/, sql);
    assert.doesNotMatch(sql, /LIKE \?/, sql);
  }
  // The same page with another limit and prefix is the same statement: nothing new to prepare.
  const before = prepared.length;
  store.pageDevicesJson({ sort: 'id', idPrefix: 'gw-01', limit: 3 }, new Set());
  store.pageDevicesJson({ sort: 'id', idPrefix: 'gw-02', limit: 7 }, new Set());
  assert.ok(prepared.length <= before + 1);
});

test('the tag-filtered page in id order walks the tag index in order, with or without a cursor', (t) => {
  const { store, prepared, prepare } = storeWithDevices(t);
  for (const sort of ['id', '-id'] as const) {
    for (const after of [undefined, { key: null, id: 'gw-0100' }]) {
      prepared.length = 0;
      const query: DevicePageQuery = { sort, tags: { site: 'north' }, after, limit: 101 };
      const page = store.pageDevicesJson(query, new Set());
      assert.ok(page.count > 0);
      assert.equal(prepared.length, 1);
      const sql = prepared[0]!;
      const parameters = (sql.match(/\?/g) ?? []).length;
      const plan = (prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array.from({ length: parameters }, () => 'x')) as Array<{ detail: string }>).map((row) => row.detail);
      const where = `${sort}${after ? ', after a cursor' : ''}: ${plan.join(' | ')}`;
      assert.ok(plan.some((step) => /SEARCH t0 USING COVERING INDEX device_tags_by_pair \(key=\? AND value=\?/.test(step)), where);
      assert.ok(!plan.some((step) => /TEMP B-TREE|SCAN d\b/.test(step)), where);
    }
  }
});
