import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isWasmfleetError } from '../../common/errors.js';
import { readFileSync } from 'node:fs';
import { fromRoot } from '../../common/paths.js';
import { DEFAULT_MODULE_FETCH_TIMEOUT_MS, loadAgentConfig, loadAgentProfile, resolveAgentConfig } from '../../device-agent/config.js';
import { tempDir, testTrust } from './helpers.js';

const valid = () => ({
  deviceId: 'gw-01',
  broker: { url: 'mqtt://127.0.0.1:1883', username: 'gw-01', password: 'secret' },
  profile: 'sim-x86-64',
  stateDir: './gw-01.state',
  trust: testTrust(),
});

function refusal(fn: () => unknown): { code: string; message: string; field: unknown } {
  try {
    fn();
  } catch (error) {
    assert.ok(isWasmfleetError(error), `expected a WasmfleetError, got ${String(error)}`);
    return { code: error.code, message: error.message, field: error.details.field };
  }
  assert.fail('expected a refusal');
}

test('a valid config file gets defaults and paths relative to the file', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'agent.json');
  writeFileSync(path, JSON.stringify(valid()));
  const config = loadAgentConfig(path);
  assert.equal(config.moduleFetchTimeoutMs, DEFAULT_MODULE_FETCH_TIMEOUT_MS);
  assert.equal(config.stateDir, join(dir, 'gw-01.state'));
  assert.equal(config.profile, 'sim-x86-64', 'a built-in name is not a path');
  assert.ok(Object.isFrozen(config.broker));
  assert.equal(config.spareWorker, true, 'a spare sandbox worker by default');
  assert.equal(resolveAgentConfig({ ...valid(), spareWorker: false }).spareWorker, false);
  assert.equal(refusal(() => resolveAgentConfig({ ...valid(), spareWorker: 'no' })).field, 'spareWorker');
});

test('refusals name the field', () => {
  const cases: Array<[unknown, string]> = [
    [{ ...valid(), broker: { ...valid().broker, url: 'http://x' } }, 'broker/url'],
    [{ ...valid(), broker: { url: 'mqtt://x', username: 'gw-01' } }, 'broker/password'],
    [{ ...valid(), deviceId: 'GW/01' }, 'deviceId'],
    [{ ...valid(), moduleFetchTimeoutMs: 5 }, 'moduleFetchTimeoutMs'],
    [{ ...valid(), logLevel: 'loud' }, 'logLevel'],
    [{ ...valid(), extra: true }, 'extra'],
    [{ ...valid(), trust: undefined }, 'trust'],
    [{ ...valid(), trust: { ...valid().trust, root: 'not a key' } }, 'trust/root'],
  ];
  for (const [input, field] of cases) {
    const error = refusal(() => resolveAgentConfig(input));
    assert.equal(error.code, 'WF_AGENT_CONFIG_INVALID');
    assert.match(error.message, new RegExp(`^agent config field '${field}': `), error.message);
  }
});

test('an unreadable config file is refused with its path', (t) => {
  const path = join(tempDir(t), 'missing.json');
  const error = refusal(() => loadAgentConfig(path));
  assert.equal(error.code, 'WF_AGENT_CONFIG_UNREADABLE');
  assert.ok(error.message.includes(path));
});

test('an invalid profile file is refused naming the profile field', (t) => {
  const dir = tempDir(t);
  const profile = JSON.parse(readFileSync(fromRoot('firmware-profiles', 'sim-x86-64.json'), 'utf8'));
  profile.sources[0].rateHz = -1;
  writeFileSync(join(dir, 'bad-profile.json'), JSON.stringify(profile));
  writeFileSync(join(dir, 'agent.json'), JSON.stringify({ ...valid(), profile: 'bad-profile.json' }));
  const config = loadAgentConfig(join(dir, 'agent.json'));
  assert.equal(config.profile, join(dir, 'bad-profile.json'));
  const error = refusal(() => loadAgentProfile(config));
  assert.equal(error.code, 'WF_AGENT_PROFILE_INVALID');
  assert.equal(error.field, 'sources/0/rateHz');
  assert.match(error.message, /sources\/0\/rateHz/);
});

test('built-in profiles load; an unknown one is refused', () => {
  assert.equal(loadAgentProfile({ profile: 'sim-x86-64' }).name, 'sim-x86-64');
  assert.match(refusal(() => loadAgentProfile({ profile: 'no-such-board' })).message, /WF_PROFILE_UNKNOWN/);
});
