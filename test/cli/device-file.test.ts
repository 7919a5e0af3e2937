import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDeviceFile } from '../../cli/device-file.js';

test('a CSV device file parses with quoting, tags and blank lines', () => {
  const result = parseDeviceFile('\uFEFFid,profile,tags\r\ngw-01,sim-x86-64,site=north;line=2\n\n"gw-02",rpi4-arm64,"site=south"\ngw-03,sim-x86-64,\n', 'csv');
  assert.ok(result.ok);
  assert.deepEqual(result.rows, [
    { id: 'gw-01', profile: 'sim-x86-64', tags: { site: 'north', line: '2' }, line: 2 },
    { id: 'gw-02', profile: 'rpi4-arm64', tags: { site: 'south' }, line: 4 },
    { id: 'gw-03', profile: 'sim-x86-64', tags: {}, line: 5 },
  ]);
});

test('a CSV with bad rows is refused listing every bad line and field', () => {
  const csv = ['id,profile,tags', 'gw-01,sim-x86-64,site=north', 'GW 02,sim-x86-64,', 'gw-03,,', 'gw-04,sim-x86-64,site', 'gw-05,sim-x86-64', 'gw-01,sim-x86-64,', 'gw-06,sim-x86-64,"unterminated'].join('\n');
  const result = parseDeviceFile(csv, 'csv');
  assert.ok(!result.ok);
  assert.deepEqual(result.problems.map((p) => [p.line, p.field]), [
    [3, 'id'],
    [4, 'profile'],
    [5, 'tags'],
    [6, 'row'],
    [7, 'id'],
    [8, 'row'],
  ]);
  assert.match(result.problems[4]!.reason, /also on line 2/);
  const header = parseDeviceFile('name,profile\nx,y\n', 'csv');
  assert.ok(!header.ok);
  assert.deepEqual(header.problems.map((p) => [p.line, p.field]), [[1, 'header']]);
});

test('a JSON Lines device file parses, and its bad lines are named', () => {
  const good = parseDeviceFile('{"id":"gw-01","profile":"sim-x86-64","tags":{"site":"north"}}\n{"id":"gw-02","profile":"rpi4-arm64"}\n', 'jsonl');
  assert.ok(good.ok);
  assert.deepEqual(good.rows.map((r) => [r.id, r.line]), [['gw-01', 1], ['gw-02', 2]]);
  const bad = parseDeviceFile('{"id":"gw-01","profile":"sim-x86-64"}\nnot json\n{"id":"gw-02","profile":"p","color":"red"}\n[1]\n{"id":"gw-03","profile":"p","tags":{"Site":"x"}}\n', 'jsonl');
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => [p.line, p.field]), [[2, 'row'], [3, 'color'], [4, 'row'], [5, 'tags/Site']]);
  const empty = parseDeviceFile('\n\n', 'jsonl');
  assert.ok(!empty.ok);
});
