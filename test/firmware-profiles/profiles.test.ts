/** The built-in profiles: each validates, states what docs/profiles.md promises, and fits its hardware class. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_RUNTIME_VERSIONS } from '../../bundle/node-runtime.js';
import { listProfileNames, loadProfile, parseProfile } from '../../firmware-profiles/index.js';

const compare = (a: string, b: string) => {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  return x![0]! - y![0]! || x![1]! - y![1]! || x![2]! - y![2]!;
};

test('the built-in profiles cover Pi 4/5 (arm64), armv7l boards and x86-64 edge boxes', () => {
  assert.deepEqual(listProfileNames(), ['armv7l-sbc', 'rpi4-arm64', 'rpi5-arm64', 'sim-x86-64', 'x64-edge']);
  const arches = Object.fromEntries(listProfileNames().map((name) => [name, loadProfile(name).arch]));
  assert.deepEqual(arches, { 'armv7l-sbc': 'armv7l', 'rpi4-arm64': 'arm64', 'rpi5-arm64': 'arm64', 'sim-x86-64': 'x64', 'x64-edge': 'x64' });
  for (const name of listProfileNames()) {
    const profile = loadProfile(name);
    const { moduleLimits, spool, install } = profile;
    assert.ok(moduleLimits.memoryPages * 64 <= moduleLimits.memoryBudgetMiB * 1024, `${name}: one module fits the budget`);
    assert.ok(spool.maxBytes > 0 && spool.maxAgeS > 0 && profile.heartbeatIntervalS > 0);
    assert.deepEqual([install.dir, install.stateDir, install.user, install.serviceManager], ['/opt/wasmfleet', '/var/lib/wasmfleet', 'wasmfleet', 'systemd']);
    // --with-node must be able to carry a runtime the profile accepts.
    assert.ok(compare(DEFAULT_RUNTIME_VERSIONS[profile.arch], profile.minNodeVersion) >= 0, `${name}: the default runtime meets minNodeVersion`);
    if (name !== 'sim-x86-64') {
      assert.ok(profile.sources.every((s) => s.kind !== 'simulated'), `${name}: real hardware, real sources`);
      assert.equal(profile.sources[0]!.kind, 'sysfs-thermal', `${name}: the first (default) source is the SoC/CPU thermal zone`);
    }
  }
  const kinds = new Set(listProfileNames().flatMap((name) => loadProfile(name).sources.map((s) => s.kind)));
  assert.deepEqual([...kinds].sort(), ['mqtt', 'serial', 'simulated', 'sysfs-iio', 'sysfs-thermal', 'udp']);
});

test('a bad source or install setting is refused with the field named; defaults fill in', () => {
  const base = JSON.parse(JSON.stringify(loadProfile('rpi4-arm64'))) as Record<string, unknown>;
  assert.throws(() => parseProfile({ ...base, sources: [{ kind: 'gpio', id: 'x' }] }, 'p'), /field 'sources\/0\/kind': unknown source kind "gpio"; known: simulated, sysfs-thermal/);
  assert.throws(() => parseProfile({ ...base, sources: [{ kind: 'udp', id: 'u', port: 70000 }] }, 'p'), /field 'sources\/0\/port'/);
  assert.throws(() => parseProfile({ ...base, install: { stateDir: '/etc/wasmfleet' } }, 'p'), /install\/stateDir/);
  assert.throws(() => parseProfile({ ...base, install: { serviceManager: 'openrc' } }, 'p'), /install\/serviceManager/);
  const { install: _install, ...withoutInstall } = base;
  const filled = parseProfile({ ...withoutInstall, sources: [{ kind: 'serial', id: 'serial', path: '/dev/ttyUSB0' }] }, 'p');
  assert.deepEqual(filled.install, { dir: '/opt/wasmfleet', stateDir: '/var/lib/wasmfleet', user: 'wasmfleet', groups: [], serviceManager: 'systemd' });
  assert.deepEqual(filled.sources[0], { kind: 'serial', id: 'serial', path: '/dev/ttyUSB0', maxBuffered: 8192, scale: 1, offset: 0, parse: { format: 'number' }, maxLineBytes: 1024, reopenMs: 2000 });
});
