/**
 * `wasmfleet hub --config FILE` as a real process: it refuses a bad config naming the field, and
 * its stop is bounded. The hub's stop takes at most 3.25 s (hub/hub.ts STOP_BUDGETS_MS) and the
 * process exits within 5 s of SIGTERM whatever its peers do (exit 1 past that bound,
 * common/signals.ts): exit 0 with `hub stopped` logged means it stopped in bound. The harness
 * waits far longer before it would SIGKILL, so a hang fails the test without timing anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { runCli, startCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { connectCode, onCleanup, siteDocument, startUpstream, tempDir } from './helpers.js';
import mqtt from 'mqtt';
import { hubTopics } from '../../protocol/hubs.js';

const HANG_MS = 30_000;

test('wasmfleet hub refuses a config with the field named', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'bad.json');
  writeFileSync(path, JSON.stringify({ hubId: 'north', secret: 'x', upstream: { urls: ['http://nope'] }, dataDir: 'data' }));
  const result = await runCli(['hub', '--config', path, '--json']);
  assert.notEqual(result.code, 0);
  const error = (JSON.parse(result.stdout) as { error: { code: string; field: string } }).error;
  assert.equal(error.code, 'WF_HUB_CONFIG_INVALID');
  assert.equal(error.field, 'upstream/urls/0');
});

test('SIGTERM stops a serving hub in bound, with a device connected and its upstream hanging (accepts TCP, never answers)', async (t) => {
  // First a real upstream so the hub receives its site document and admits a device…
  const upstream = await startUpstream(t);
  const dir = tempDir(t);
  const config = join(dir, 'north.hub.json');
  const write = (url: string) => writeFileSync(config, JSON.stringify({ hubId: 'north', secret: 'hub', upstream: { urls: [url], reconnectPeriodMs: 200 }, listen: { port: 0 }, dataDir: 'data' }));
  write(upstream.url);
  const api = await mqtt.connectAsync(upstream.url, { protocolVersion: 4, clientId: 'central', reconnectPeriod: 0 });
  onCleanup(t, () => api.endAsync(true));
  await api.publishAsync(hubTopics.hub('north', 'site'), JSON.stringify(siteDocument('north', 1, [{ deviceId: 'gw-1', secret: 's' }])), { qos: 1, retain: true });
  let hub = startCli(['hub', '--config', config, '--json']);
  onCleanup(t, () => hub.stop());
  const url = await waitFor('the hub to start', () => /"mqtt": "([^"]+)"/.exec(hub.output())?.[1], 20_000);
  await waitFor('the site document on disk', () => (hub.output().includes('site document in force') ? true : undefined), 20_000);
  assert.equal(await hub.stop(), 0);

  // …then restarted against an upstream that accepts and never answers.
  const sockets = new Set<Socket>();
  const hanging = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  onCleanup(t, () => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => hanging.close(() => resolve()));
  });
  write(`mqtt://127.0.0.1:${(hanging.address() as AddressInfo).port}`);
  hub = startCli(['hub', '--config', config, '--json']);
  const again = await waitFor('the hub to start again', () => /"mqtt": "([^"]+)"/.exec(hub.output())?.[1], 20_000);
  assert.equal(await connectCode(again, 'gw-1', 's'), 0, 'admitted from the site document on disk');
  const device = await mqtt.connectAsync(again, { protocolVersion: 4, clientId: 'gw-1', username: 'gw-1', password: 's', reconnectPeriod: 0 });
  onCleanup(t, () => device.endAsync(true));
  assert.ok(url);

  hub.child.kill('SIGTERM');
  const killer = setTimeout(() => hub.child.kill('SIGKILL'), HANG_MS);
  const code = await hub.exited;
  clearTimeout(killer);
  assert.equal(code, 0, `the hub exited cleanly within its bound:\n${hub.output().slice(-1500)}`);
  assert.match(hub.output(), /"msg":"hub stopped"/);
});
