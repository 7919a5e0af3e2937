/**
 * The bundled agent loads the Node built-ins of optional features only when a config uses them
 * (bundle/lazy-requires.ts, device-agent/sources/index.ts): a plain `mqtt://` agent with a
 * simulated source never loads http, https, zlib, tls, dns, dgram or child_process, and an
 * `mqtts://` agent still connects, loading tls when it does. Each agent process records
 * `process.moduleLoadList` on exit through a `--require` preload.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAgentBundle } from '../../bundle/build-agent.js';
import { applyLazyRewrites, LAZY_REWRITES } from '../../bundle/lazy-requires.js';
import { silentLogger } from '../../common/logger.js';
import { startPlatform } from '../../platform/start-platform.js';
import { makeCertificates } from '../broker/tls-helpers.js';
import { waitFor } from '../helpers/wait.js';

const OPTIONAL_BUILTINS = ['http', 'https', 'zlib', 'tls', 'dns', 'dgram', 'child_process'];

const PRELOAD = `process.on('exit', () => require('node:fs').writeFileSync(process.env.WF_LOADED_FILE, process.moduleLoadList.join('\\n')));`;

test('a rewrite whose text is gone from mqtt fails the build instead of loading everything again', () => {
  const [rewrite] = LAZY_REWRITES;
  const path = '/x/node_modules/mqtt/build/lib/connect/index.js';
  const changed = applyLazyRewrites(path, 'protocols.ws = require("./ws").streamBuilder;', [rewrite!]);
  assert.ok('problems' in changed && /expected 2 ×/.test(changed.problems[0]!), JSON.stringify(changed));
  const matched = applyLazyRewrites(path, `a = ${rewrite!.find}\nb = ${rewrite!.find}`, [rewrite!]);
  assert.ok('contents' in matched && !matched.contents.includes(rewrite!.find));
  assert.deepEqual(applyLazyRewrites('/elsewhere.js', 'untouched'), { contents: 'untouched' });
});

test('the bundled agent loads tls, http, dgram and child_process only for the features that need them', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'wf-lazy-builtins-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const certs = makeCertificates(t);
  const platform = await startPlatform(
    { dataDir: join(work, 'data'), mqttPort: 0, httpPort: 0, mqttTls: { port: 0, certFile: certs.server.cert, keyFile: certs.server.key, caFile: certs.ca.cert, requireClientCert: false } },
    silentLogger,
  );
  t.after(() => platform.close());
  const bundle = await buildAgentBundle({ outDir: join(work, 'bundle') });
  const preload = join(work, 'preload.cjs');
  writeFileSync(preload, PRELOAD);
  const headers = { authorization: `Bearer ${platform.newAdminToken}`, 'content-type': 'application/json' };

  /** Runs an agent until it is online, stops it, and returns the built-ins it loaded. */
  const loadedBy = async (id: string, url: string, tls: Record<string, string>): Promise<Set<string>> => {
    const response = await fetch(`${platform.apiUrl}/api/v1/devices`, { method: 'POST', headers, body: JSON.stringify({ id, profile: 'sim-x86-64' }) });
    assert.equal(response.status, 201);
    const { mqtt, trust } = (await response.json()) as { mqtt: { username: string; password: string }; trust: unknown };
    const config = join(work, `${id}.json`);
    writeFileSync(config, JSON.stringify({ deviceId: id, broker: { ...mqtt, url, ...tls }, trust, profile: 'sim-x86-64', stateDir: join(work, `${id}.state`) }), { mode: 0o600 });
    const loadedFile = join(work, `${id}.loaded`);
    let output = '';
    const agent = spawn(process.execPath, ['--require', preload, bundle.entry, '--config', config], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '', WASMFLEET_LOG_LEVEL: 'warn', WF_LOADED_FILE: loadedFile },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    agent.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => agent.on('exit', (code) => resolve(code)));
    t.after(() => {
      if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
    });
    await waitFor(`${id} online`, async () => {
      const device = (await (await fetch(`${platform.apiUrl}/api/v1/devices/${id}`, { headers })).json()) as { online: boolean };
      return device.online ? true : undefined;
    }).catch((error: Error) => assert.fail(`${error.message}\nagent output:\n${output}`));
    agent.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    return new Set(readFileSync(loadedFile, 'utf8').split('\n').filter((line) => line.startsWith('NativeModule ')).map((line) => line.slice('NativeModule '.length)));
  };

  const plain = await loadedBy('gw-plain', platform.broker.url, {});
  assert.ok(plain.has('net') && plain.has('crypto'), 'the list is the agent process\'s');
  for (const name of OPTIONAL_BUILTINS) assert.ok(!plain.has(name), `a plain mqtt:// agent loaded ${name}`);

  assert.ok(platform.broker.tlsUrl?.startsWith('mqtts://'));
  const secure = await loadedBy('gw-tls', platform.broker.tlsUrl!, { caFile: certs.ca.cert });
  assert.ok(secure.has('tls'), 'the mqtts:// agent connected over tls');
  for (const name of ['http', 'dgram', 'child_process']) assert.ok(!secure.has(name), `an mqtts:// agent loaded ${name}`);
});
