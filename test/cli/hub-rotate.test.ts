/**
 * `wasmfleet hub rotate ID [--grace-seconds N] --config-out FILE`, run as the real CLI against a
 * running platform: the config `hub add` wrote gets the new secret (every other field kept, mode
 * 0600), the broker admits the hub with it; with --grace-seconds 0 the hub's open session is cut
 * and the old secret refused. Bad arguments are refused naming the option, before anything changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { silentLogger } from '../../common/logger.js';
import { startPlatform } from '../../platform/start-platform.js';
import { hubClientId, hubUsername } from '../../protocol/index.js';
import { runCli, runCliJson } from '../helpers/cli.js';

async function connectCode(url: string, password: string): Promise<number> {
  try {
    const client = await mqtt.connectAsync(url, { clientId: hubClientId('north'), clean: true, username: hubUsername('north'), password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
    await client.endAsync(true);
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

test('hub rotate writes the new secret into the hub config; --grace-seconds 0 cuts the open session', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-cli-hub-rotate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const platform = await startPlatform({ dataDir: join(dir, 'data'), mqttPort: 0, httpPort: 0 }, silentLogger);
  t.after(() => platform.close());
  const admin = ['--api', platform.apiUrl, '--token', platform.newAdminToken!];
  const configFile = join(dir, 'north.hub.json');
  await runCliJson(['hub', 'add', 'north', '--tag', 'site=north', '--url', 'mqtt://127.0.0.1:21883', '--config-out', configFile, ...admin]);
  const first = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;

  // Refused before the secret changes: a missing file, another hub's file, a bad grace.
  const missing = await runCli(['hub', 'rotate', 'north', '--config-out', join(dir, 'nope.json'), '--json', ...admin]);
  assert.notEqual(missing.code, 0);
  assert.equal((JSON.parse(missing.stdout) as { error: { code: string } }).error.code, 'WF_CLI_BAD_ARGUMENT');
  assert.match(missing.stdout, /--config-out/);
  const negative = await runCli(['hub', 'rotate', 'north', '--grace-seconds', '-1', ...admin]);
  assert.notEqual(negative.code, 0);
  assert.match(negative.stderr + negative.stdout, /--grace-seconds/);
  const other = join(dir, 'south.hub.json');
  writeFileSync(other, JSON.stringify({ ...first, hubId: 'south' }));
  const mismatch = await runCli(['hub', 'rotate', 'north', '--config-out', other, ...admin]);
  assert.notEqual(mismatch.code, 0);
  assert.match(mismatch.stderr + mismatch.stdout, /hub 'south', not 'north'/);
  assert.equal(await connectCode(platform.mqttUrl, first.secret as string), 0, 'the refusals changed nothing');

  // With the default grace: the config holds the new secret; both work until the new one is used.
  const rotated = await runCliJson<{ hubId: string; upstream: { password: string }; previousValidUntil: string | null; hubConfig: string }>(['hub', 'rotate', 'north', '--config-out', configFile, ...admin]);
  assert.equal(rotated.hubConfig, configFile);
  assert.ok(rotated.previousValidUntil);
  const second = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  assert.deepEqual(second, { ...first, secret: rotated.upstream.password }, 'only the secret changed');
  assert.equal(statSync(configFile).mode & 0o777, 0o600);
  assert.equal(await connectCode(platform.mqttUrl, first.secret as string), 0, 'the old secret works during the grace');

  // Without grace: the session open with the current secret is closed, and that secret refused.
  const hub = await mqtt.connectAsync(platform.mqttUrl, { clientId: hubClientId('north'), clean: true, username: hubUsername('north'), password: second.secret as string, protocolVersion: 4, reconnectPeriod: 0 });
  t.after(() => hub.endAsync(true));
  const closed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the hub session is still open 10 s after the rotation')), 10_000);
    hub.once('close', () => (clearTimeout(timer), resolve()));
  });
  const revoked = await runCliJson<{ previousValidUntil: string | null; upstream: { password: string } }>(['hub', 'rotate', 'north', '--grace-seconds', '0', '--config-out', configFile, ...admin]);
  assert.equal(revoked.previousValidUntil, null);
  await closed;
  assert.equal(await connectCode(platform.mqttUrl, second.secret as string), 4);
  assert.equal(await connectCode(platform.mqttUrl, (JSON.parse(readFileSync(configFile, 'utf8')) as { secret: string }).secret), 0, 'the config holds the secret that works');

  const help = await runCli(['hub', 'rotate', '--help']);
  assert.match(help.stdout, /hub rotate north --config-out north\.hub\.json/);
});
