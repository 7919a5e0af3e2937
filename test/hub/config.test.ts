import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isWasmfleetError } from '../../common/errors.js';
import { HUB_DEFAULTS, loadHubConfig, resolveHubConfig } from '../../hub/config.js';

const minimal = { hubId: 'north', secret: 'hub_x', upstream: { urls: ['mqtt://127.0.0.1:1883'] }, dataDir: 'north-data' };

test('a minimal hub config gets every default, relative paths resolved against the file, and is frozen', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-hubcfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'north.json');
  writeFileSync(path, JSON.stringify(minimal));
  const config = loadHubConfig(path);
  assert.equal(config.dataDir, join(dir, 'north-data'));
  assert.equal(config.listen.host, HUB_DEFAULTS.listenHost);
  assert.equal(config.listen.port, HUB_DEFAULTS.listenPort);
  assert.equal(config.custody.maxBytes, HUB_DEFAULTS.custodyMaxBytes);
  assert.equal(config.custody.maxAgeMs, HUB_DEFAULTS.custodyMaxAgeMs);
  assert.equal(config.statusIntervalMs, HUB_DEFAULTS.statusIntervalMs);
  assert.equal(config.upstream.reconnectPeriodMs, HUB_DEFAULTS.reconnectPeriodMs);
  assert.ok(Object.isFrozen(config.upstream));
});

test('a refused hub config names the field', () => {
  const refusal = (input: unknown): string => {
    try {
      resolveHubConfig(input);
    } catch (error) {
      assert.ok(isWasmfleetError(error, 'WF_HUB_CONFIG_INVALID'));
      return String(error.details.field);
    }
    assert.fail('accepted');
  };
  assert.equal(refusal({ ...minimal, hubId: 'no/slash' }), 'hubId');
  assert.equal(refusal({ ...minimal, upstream: { urls: [] } }), 'upstream/urls');
  assert.equal(refusal({ ...minimal, upstream: { urls: ['http://x'] } }), 'upstream/urls/0');
  assert.equal(refusal({ ...minimal, listen: { tcp: false } }), 'listen/tcp');
  assert.equal(refusal({ ...minimal, custody: { maxBytes: 10 } }), 'custody/maxBytes');
  assert.equal(refusal({ ...minimal, tamper: true }), 'tamper', 'the test-only tampering is not reachable from the file');
});

test('an unreadable hub config file is refused with its path', () => {
  assert.throws(() => loadHubConfig('/nonexistent/hub.json'), (error) => isWasmfleetError(error, 'WF_HUB_CONFIG_UNREADABLE'));
});
