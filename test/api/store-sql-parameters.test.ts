/**
 * No SQL statement binds a bare parameter as its LIMIT or as a LIKE or GLOB pattern
 * (fleet-api/store/statements.ts says why: SQLite re-prepares such a statement on every run). The
 * re-prepare is invisible from JavaScript, so the SQL text is held, two ways:
 *  - every statement a store prepares when it opens, and the shapes of the queries that compose
 *    their SQL from filters (results, audit, deployment pages);
 *  - every source file of the platform's parts, so a statement that only some path prepares, or a
 *    new store (hub, agent, broker), is held too.
 * The device inventory's page queries are composed over many more shapes:
 * test/api/device-page-plan.test.ts runs them all (and holds their plans).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openStore } from '../../fleet-api/index.js';
import { tempDir } from './helpers/harness.js';

/**
 * A parameter (`?`, `?3`, `:name`, `@name`, `$name`), perhaps in parentheses, right after LIMIT,
 * LIKE or GLOB, and not the start of an expression (`? + 0`, `? || ''`), which SQLite does not
 * look into.
 */
const BARE = /\b(?:LIMIT|LIKE|GLOB)\s+\(*\s*(?:\?\d*|[:@$][A-Za-z_]\w*)(?!\w)\s*\)*(?!\s*(?:\+|\|\||-|\*))/i;

const bareIn = (sqls: Iterable<string>): string[] => [...sqls].filter((sql) => BARE.test(sql));

test('the pattern finds bare LIMIT, LIKE and GLOB parameters and lets expressions over them pass', () => {
  for (const sql of ['SELECT 1 LIMIT ?', 'SELECT 1 LIMIT (?)', 'SELECT 1 limit ?2', 'WHERE id LIKE ? ESCAPE', 'WHERE id GLOB :pattern', 'WHERE id LIKE @p', 'ORDER BY t LIMIT $n']) {
    assert.ok(BARE.test(sql), sql);
  }
  for (const sql of ["SELECT 1 LIMIT ? + 0", "WHERE id LIKE (? || '') ESCAPE", "WHERE id GLOB (:p || '')", 'LIMIT 1 OFFSET ?', 'LIMIT 10', 'WHERE id = ?']) {
    assert.ok(!BARE.test(sql), sql);
  }
});

test('no statement a store prepares binds a bare LIMIT or LIKE parameter, whatever the query filters', (t) => {
  const prepared = new Set<string>();
  const prepare = Database.prototype.prepare;
  Database.prototype.prepare = function (this: Database.Database, sql: string) {
    prepared.add(sql);
    return prepare.call(this, sql);
  } as typeof prepare;
  t.after(() => {
    Database.prototype.prepare = prepare;
  });
  const store = openStore(join(tempDir(t), 'fleet.db'));
  t.after(() => store.close());
  const opened = prepared.size;

  // Each optional filter on and off: every shape of the composed queries.
  const shapes = <T extends object>(filters: T): Array<Partial<T>> =>
    Object.entries(filters).reduce<Array<Partial<T>>>((all, [key, value]) => all.flatMap((shape) => [shape, { ...shape, [key]: value }]), [{}]);
  for (const filter of shapes({ module: 'm', metric: 'temp', kind: 'metric' as const, from: 1, to: 2, after: { t: 1, seq: 1, id: 1 } })) {
    store.queryResults({ deviceId: 'gw-1', ...filter, limit: 10 });
  }
  for (const filter of shapes({ actor: 'ops', action: 'device.', target: 'gw-1', since: '2026-01-01', until: '2027-01-01', failed: true, before: 9 })) {
    store.queryAudit({ ...filter, limit: 10 });
  }
  store.queryAudit({ action: 'device.create', failed: false, limit: 10 });
  for (const filter of shapes({ statuses: ['running'] as const, module: 'm', afterSeq: 3 })) {
    for (const ascending of [true, false]) store.pageDeployments({ ...filter, ascending, limit: 10 });
  }
  store.listDeployments(5);
  store.deviceDeploymentHistory('gw-1', 5);
  store.fleetSummary(5);

  assert.ok(opened > 50, `${opened} statements prepared when the store opened`);
  assert.ok(prepared.size > opened + 100, `${prepared.size - opened} more for the queries' shapes`);
  assert.deepEqual(bareIn(prepared), []);
});

// The platform's parts; not test/ (whose SQL only sets data up), modules-as (Wasm), dist, node_modules.
const PARTS = ['broker', 'bench', 'bundle', 'cli', 'common', 'device-agent', 'fleet-api', 'hub', 'platform', 'protocol', 'wasm-host'];

test('no source file of the platform writes a bare LIMIT, LIKE or GLOB parameter', () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const sources: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|mjs|js|sql)$/.test(name) && !name.endsWith('.d.ts')) sources.push(path);
    }
  };
  for (const part of PARTS) walk(join(root, part));
  assert.ok(sources.some((path) => path.endsWith('fleet-api/store/results.ts')), `${sources.length} files read under ${root}`);
  const found: string[] = [];
  for (const path of sources) {
    const file = relative(root, path);
    readFileSync(path, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        // Comments may name what they warn against.
        if (BARE.test(line) && !/^\s*(\/\/|\/?\*)/.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(found, []);
});
