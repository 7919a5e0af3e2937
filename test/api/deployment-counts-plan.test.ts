/**
 * A deployment's rows are counted by state from the (deployment_id, state) index alone, never by
 * looking every row up through the primary key (migrations.ts; 2.7 ms against 0.6 ms for 10,000
 * rows): the query every deployment view runs, and the bench's rollout timeline's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openStore } from '../../fleet-api/index.js';
import { COUNTS_SQL } from '../../fleet-api/store/deployments.js';
import { tempDir } from './helpers/harness.js';

test("a deployment's per-state counts read only the covering index", (t) => {
  const store = openStore(join(tempDir(t), 'fleet.db'));
  t.after(() => store.close());
  const plan = (sql: string, ...args: unknown[]) => (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>).map((row) => row.detail).join(' | ');
  assert.match(plan(COUNTS_SQL, '["d1"]'), /USING COVERING INDEX deployment_devices_by_deployment_state/);
  assert.match(plan('SELECT state, count(*) FROM deployment_devices WHERE deployment_id = ? GROUP BY state', 'd1'), /USING COVERING INDEX deployment_devices_by_deployment_state/);
});
