/**
 * The fleet counts the triggers keep (store/migrations.ts, fleet_counts_*) always equal a count
 * done here over the devices as they are: after random provisioning, deletions, tag and profile
 * changes, presence, reports and desired revisions, through the store and through plain SQL. And a
 * database that already held devices when the migration ran starts with the right counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore, type Store } from '../../fleet-api/index.js';
import { MIGRATIONS } from '../../fleet-api/store/migrations.js';
import type { ReportedState } from '../../protocol/index.js';
import { tempDir } from './helpers/harness.js';

interface Counts {
  total: number;
  online: number;
  outOfSync: number;
  faulted: number;
}

/** The summary computed from the devices themselves, keyed like `profile:x` and `tag:k=v`. */
function scanCounts(store: Store): Map<string, Counts> {
  const rows = store.db
    .prepare('SELECT profile, tags, online, reported_revision < desired_revision AS out_of_sync, faulted FROM devices')
    .all() as Array<{ profile: string; tags: string; online: number; out_of_sync: number; faulted: number }>;
  const counts = new Map<string, Counts>();
  const bump = (key: string, row: (typeof rows)[number]) => {
    const entry = counts.get(key) ?? { total: 0, online: 0, outOfSync: 0, faulted: 0 };
    entry.total += 1;
    entry.online += row.online;
    entry.outOfSync += row.out_of_sync;
    entry.faulted += row.faulted;
    counts.set(key, entry);
  };
  for (const row of rows) {
    bump('*', row);
    bump(`profile:${row.profile}`, row);
    for (const [key, value] of Object.entries(JSON.parse(row.tags) as Record<string, string>)) bump(`tag:${key}=${value}`, row);
  }
  return counts;
}

function summaryCounts(store: Store): Map<string, Counts> {
  const summary = store.fleetSummary(10_000);
  const counts = new Map<string, Counts>();
  const pick = (c: Counts & { offline: number }): Counts => {
    assert.equal(c.offline, c.total - c.online);
    return { total: c.total, online: c.online, outOfSync: c.outOfSync, faulted: c.faulted };
  };
  if (summary.total > 0) counts.set('*', pick(summary));
  for (const p of summary.byProfile) counts.set(`profile:${p.profile}`, pick(p));
  for (const t of summary.byTag) counts.set(`tag:${t.key}=${t.value}`, pick(t));
  assert.equal(summary.tagPairs, summary.byTag.length);
  return counts;
}

const reported = (revision: number, failed: boolean): ReportedState => ({
  v: 1,
  deviceId: 'x',
  revision,
  reportedAt: new Date().toISOString(),
  agentVersion: '0.1.0',
  profile: 'sim-x86-64',
  modules: [{ name: 'm', version: '1.0.0', digest: 'sha256:' + '0'.repeat(64), state: failed ? 'failed' : 'running', faults: 0 }],
  errors: [],
} as unknown as ReportedState);

/** mulberry32: the same sequence for a seed, so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('the kept counts equal a scan after random changes through the store and plain SQL', (t) => {
  const store = openStore(join(tempDir(t), 'fleet.db'));
  t.after(() => store.close());
  const next = random(16);
  const pickOf = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const tagsOf = (): Record<string, string> => {
    const tags: Record<string, string> = {};
    if (next() < 0.8) tags.site = pickOf(['north', 'south', 'east']);
    if (next() < 0.5) tags.line = pickOf(['1', '2']);
    return tags;
  };
  const profiles = ['sim-x86-64', 'sim-arm64', 'rpi4'];
  const ids: string[] = [];
  for (let step = 0; step < 1500; step += 1) {
    const action = next();
    const id = ids.length > 0 ? pickOf(ids) : undefined;
    if (action < 0.2 || id === undefined) {
      const fresh = `gw-${step}`;
      store.insertDevice({ id: fresh, profile: pickOf(profiles), tags: tagsOf(), credentialHash: 'h' });
      ids.push(fresh);
    } else if (action < 0.25) {
      store.deleteDevice(id);
      ids.splice(ids.indexOf(id), 1);
    } else if (action < 0.35) {
      store.setTags(id, tagsOf());
    } else if (action < 0.55) {
      store.setPresence(id, next() < 0.6, new Date().toISOString());
    } else if (action < 0.7) {
      store.setReported(id, reported(Math.floor(next() * 3), next() < 0.3));
    } else if (action < 0.8) {
      store.db.prepare('UPDATE devices SET desired_revision = ? WHERE id = ?').run(Math.floor(next() * 3), id);
    } else if (action < 0.85) {
      store.db.prepare('UPDATE devices SET profile = ? WHERE id = ?').run(pickOf(profiles), id);
    } else if (action < 0.9) {
      store.markOffline([id]);
    } else if (action < 0.93) {
      // A batch, all or nothing: a duplicate id inside it leaves every count as it was.
      const batch = [0, 1, 2].map((i) => ({ id: `batch-${step}-${i}`, profile: pickOf(profiles), tags: tagsOf(), credentialHash: 'h' }));
      if (next() < 0.5) {
        assert.throws(() => store.insertDevices([...batch, { ...batch[0]! }]));
      } else {
        store.insertDevices(batch);
        ids.push(...batch.map((d) => d.id));
      }
    } else {
      store.touchDevice(id, new Date().toISOString());
    }
    if (step % 100 === 99) assert.deepEqual(summaryCounts(store), scanCounts(store), `after step ${step}`);
  }
  assert.deepEqual(summaryCounts(store), scanCounts(store));
  for (const id of [...ids]) store.deleteDevice(id);
  assert.deepEqual(summaryCounts(store), new Map());
  // Rows left at zero are kept (readers skip them), and every count in them is zero.
  for (const table of ['fleet_counts_profile', 'fleet_counts_tag']) {
    assert.equal(store.db.prepare(`SELECT count(*) FROM ${table} WHERE total != 0 OR online != 0 OR out_of_sync != 0 OR faulted != 0`).pluck().get(), 0, table);
  }
});

test('devices stored before the counts existed are counted when the migration runs', (t) => {
  const path = join(tempDir(t), 'fleet.db');
  const db = new Database(path);
  // The schema as it was just before the counts' migration, with devices in it.
  const counts = MIGRATIONS.findIndex((sql) => sql.includes('CREATE TABLE fleet_counts_profile'));
  assert.ok(counts > 0);
  db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
  db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(counts);
  for (const sql of MIGRATIONS.slice(0, counts)) db.exec(sql);
  const insert = db.prepare("INSERT INTO devices (id, profile, tags, credential_hash, created_at, online, faulted) VALUES (?, ?, ?, 'h', '2026-01-01T00:00:00.000Z', ?, ?)");
  for (let i = 0; i < 30; i += 1) insert.run(`gw-${i}`, i % 2 ? 'sim-arm64' : 'sim-x86-64', JSON.stringify({ site: i % 3 ? 'north' : 'south' }), i % 4 ? 1 : 0, i % 5 ? 0 : 1);
  db.close();
  const store = openStore(path);
  t.after(() => store.close());
  assert.equal(store.fleetSummary().total, 30);
  assert.deepEqual(summaryCounts(store), scanCounts(store));
});
