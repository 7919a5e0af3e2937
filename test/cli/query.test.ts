/** `wasmfleet query` against a real platform: the table, --csv and --json of one aggregate. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResultBatch } from '../../protocol/index.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { startTestPlatform } from '../helpers/platform.js';

const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);

test('query prints one column per group, as a table, CSV or JSON', async (t) => {
  const { platform, env } = await startTestPlatform(t, 'query');
  await runCliJson(['device', 'add', 'gw-1', '--profile', 'sim-x86-64', '--tag', 'site=north', '--tag', 'line=1'], env);
  await runCliJson(['device', 'add', 'gw-2', '--profile', 'sim-x86-64', '--tag', 'site=north', '--tag', 'line=2'], env);
  await runCliJson(['device', 'add', 'gw-3', '--profile', 'sim-x86-64', '--tag', 'site=south', '--tag', 'line=1'], env);
  const batch = (deviceId: string, points: Array<[number, number]>): ResultBatch => ({
    v: 1, deviceId, seq: 1, module: 'ema', version: '1.0.0', deploymentId: 'd', input: { source: 's', firstSeq: 0, count: 1, from: 0, to: 0 },
    metrics: [{ name: 'ema', points }], events: [], dropped: 0,
  });
  platform.api.store.ingestResultBatches([
    batch('gw-1', [[T0, 10], [T0 + 30_000, 20], [T0 + 60_000, 5]]),
    batch('gw-2', [[T0 + 1000, 100]]),
    batch('gw-3', [[T0, 1000]]),
  ]);
  const common = ['query', 'ema', '--metric', 'ema', '--tag', 'site=north', '--bucket', '1m', '--fn', 'avg', '--group-by', 'tag:line', '--from', String(T0), '--to', String(T0 + 120_000)];
  const shown = await runCli(common, env);
  assert.equal(shown.code, 0, shown.stderr);
  const lines = shown.stdout.trim().split('\n');
  assert.match(lines[0]!, /^TIME\s+1\s+2\s*$/);
  assert.match(shown.stdout, /2026-12-01T10:00:00\.000Z\s+15\s+100/);
  assert.match(shown.stdout, /2026-12-01T10:01:00\.000Z\s+5/);
  assert.match(shown.stdout, /avg\(ema\) per 1m over 2 device\(s\), from rollup-minute/);

  const csv = await runCli([...common, '--csv'], env);
  assert.equal(csv.code, 0, csv.stderr);
  assert.equal(csv.stdout, 'time,1,2\n2026-12-01T10:00:00.000Z,15,100\n2026-12-01T10:01:00.000Z,5,\n');

  const json = await runCliJson<{ series: Array<{ group: string; points: number[][] }> }>([...common, '--json'], env);
  assert.deepEqual(json.series, [{ group: '1', points: [[T0, 15], [T0 + 60_000, 5]] }, { group: '2', points: [[T0, 100]] }]);

  const bad = await runCli(['query', 'ema', '--metric', 'ema', '--bucket', '7m'], env);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /bucket/);
});
