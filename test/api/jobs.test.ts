import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApi } from './helpers/harness.js';
import { provision } from './helpers/fleet.js';

test('GET /api/v1/jobs lists the scheduled jobs with schedule, next and last run', async (t) => {
  const h = await startApi(t, { options: { jobs: { enabled: true, offlineDetection: '*/30 * * * * *', resultsRetention: '5 * * * *', rolloutProgression: '0 0 1 1 *' } } });
  const before = await h.call('GET', '/api/v1/jobs');
  assert.equal(before.status, 200);
  assert.deepEqual(before.body.jobs.map((j: { name: string; schedule: string }) => [j.name, j.schedule]), [
    ['offline-detection', '*/30 * * * * *'],
    ['results-retention', '5 * * * *'],
    ['resign-desired', '41 * * * *'],
    ['rollout-progression', '0 0 1 1 *'],
  ]);
  for (const job of before.body.jobs) {
    assert.equal(job.enabled, true);
    assert.ok(Date.parse(job.nextRun) > Date.now() - 1000);
    assert.equal(job.lastRun, null);
  }
  await h.api.runJob('results-retention');
  const after = await h.call('GET', '/api/v1/jobs');
  const retention = after.body.jobs.find((j: { name: string }) => j.name === 'results-retention');
  assert.equal(retention.lastRun.ok, true);
  assert.deepEqual(retention.lastRun.result, { expiredRows: 0, expiredBatches: 0, trimmedRows: 0 });
  await assert.rejects(h.api.runJob('nope'), /no job named 'nope'/);
});

test('offline-detection marks devices silent for over twice their heartbeat offline', async (t) => {
  const h = await startApi(t);
  await provision(h, 'fresh'); // sim-x86-64: heartbeat 10 s
  await provision(h, 'stale');
  await provision(h, 'slow', {}, 'rpi4-arm64'); // heartbeat 30 s
  const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
  h.api.store.setPresence('fresh', true, ago(5));
  h.api.store.setPresence('stale', true, ago(25));
  h.api.store.setPresence('slow', true, ago(25));
  const result = (await h.api.runJob('offline-detection')) as { checked: number; markedOffline: string[] };
  assert.deepEqual(result, { checked: 3, markedOffline: ['stale'] });
  const online = (await h.call('GET', '/api/v1/devices?online=true')).body.devices.map((d: { id: string }) => d.id);
  assert.deepEqual(online, ['fresh', 'slow']);
});

test('offline-detection judges each profile by its own heartbeat, and an online device never seen is silent', async (t) => {
  const h = await startApi(t);
  const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
  // sim-x86-64: heartbeat 10 s; rpi4-arm64: 30 s. Offline devices are never judged.
  for (const [id, profile, seconds] of [['a-fresh', 'sim-x86-64', 15], ['a-stale', 'sim-x86-64', 21], ['b-fresh', 'rpi4-arm64', 50], ['b-stale', 'rpi4-arm64', 70]] as const) {
    await provision(h, id, {}, profile);
    h.api.store.setPresence(id, true, ago(seconds));
  }
  await provision(h, 'c-offline');
  h.api.store.setPresence('c-offline', false, ago(3600));
  await provision(h, 'd-unseen');
  h.api.store.db.prepare('UPDATE devices SET online = 1, last_seen = NULL WHERE id = ?').run('d-unseen');
  const result = (await h.api.runJob('offline-detection')) as { checked: number; markedOffline: string[] };
  assert.deepEqual(result, { checked: 5, markedOffline: ['a-stale', 'b-stale', 'd-unseen'] });
  const online = (await h.call('GET', '/api/v1/devices?online=true')).body.devices.map((d: { id: string }) => d.id);
  assert.deepEqual(online, ['a-fresh', 'b-fresh']);
});

test('results-retention drops results older than the retention and beyond the row cap', async (t) => {
  const h = await startApi(t, { options: { retention: { days: 1, maxRows: 1000 } } });
  await provision(h, 'gw-01');
  const now = Date.now();
  const points = (t0: number, n: number) => Array.from({ length: n }, (_, i) => [t0 + i, i] as [number, number]);
  const mk = (seq: number, t0: number, n: number) => ({
    v: 1 as const, deviceId: 'gw-01', seq, module: 'ema', version: '1.0.0', deploymentId: 'd',
    input: { source: 's', firstSeq: 0, count: n, from: t0, to: t0 + n },
    metrics: [{ name: 'ema', points: points(t0, n) }], events: [], dropped: 0,
  });
  h.api.store.ingestResultBatches([mk(1, now - 3 * 86_400_000, 10), mk(2, now - 1000, 1200)]);
  const result = await h.api.runJob('results-retention');
  assert.deepEqual(result, { expiredRows: 10, expiredBatches: 0, trimmedRows: 200 });
  assert.equal(h.api.store.resultCount(), 1000);
});
