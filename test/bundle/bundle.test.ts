/**
 * The agent bundle on real parts: esbuild builds it into a temp folder, its metafile and imports
 * are checked for native or server-side code, and the gateway files are checked as text and
 * with `sh -n`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE_ENTRY, BUNDLE_WORKER, MAX_BUNDLE_BYTES, OPTIONAL_EXTERNALS, buildAgentBundle, bundleProblems } from '../../bundle/build-agent.js';
import { parseEntryArgs } from '../../bundle/agent-entry.js';
import { installScript, memoryMaxMiB, systemdUnit, uninstallScript } from '../../bundle/gateway-files.js';
import { AGENT_ENVIRONMENT, AGENT_NODE_FLAGS } from '../../bundle/launch.js';
import { listProfileNames, loadProfile } from '../../firmware-profiles/index.js';

test('the bundle is under 1 MB, pure JavaScript, and imports only Node built-ins', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-bundle-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bundle = await buildAgentBundle({ outDir: join(dir, 'out') });
  assert.ok(bundle.bytes < MAX_BUNDLE_BYTES, `bundle is ${bundle.bytes} bytes`);
  assert.ok(bundle.inputBytes > bundle.bytes, 'minified bundle is smaller than its inputs');
  assert.deepEqual(bundleProblems(bundle.metafile), []);

  const inputs = bundle.inputs.join('\n');
  assert.match(inputs, /node_modules\/mqtt\//, 'mqtt is inlined');
  assert.match(inputs, /wasm-host\/worker\.js/, 'the worker is bundled');
  for (const forbidden of ['better-sqlite3', 'fastify', 'fleet-api/', 'yargs', 'esbuild']) {
    assert.ok(!inputs.includes(forbidden), `${forbidden} stays out of the bundle`);
  }
  assert.ok(!bundle.inputs.some((input) => input.endsWith('.node')), 'no native addon');

  const builtins = new Set(builtinModules);
  for (const file of [BUNDLE_ENTRY, BUNDLE_WORKER]) {
    const text = readFileSync(join(bundle.dir, file), 'utf8');
    // Static `import … from "x"` and dynamic `import("x")`, as minified ESM writes them.
    const imported = [
      ...text.matchAll(/\bimport\s*[\w$*{][^;"'()]*?from\s*["']([^"']+)["']/g),
      ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
    ].map((m) => m[1]!);
    assert.ok(imported.length > 0, `${file} has imports to check`);
    for (const name of imported) assert.ok(builtins.has(name.replace(/^node:/, '')), `${file} imports ${name}`);
    const required = [...text.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]!);
    for (const name of required) {
      assert.ok(builtins.has(name.replace(/^node:/, '')) || OPTIONAL_EXTERNALS.includes(name), `${file} requires ${name}`);
    }
  }
  assert.match(readFileSync(bundle.entry, 'utf8'), /\.\/worker\.mjs/, 'the pool boots the bundled worker');

  // Every built-in profile travels inside, readable away from the repository.
  const outside = mkdtempSync(join(tmpdir(), 'wf-bundle-cwd-'));
  t.after(() => rmSync(outside, { recursive: true, force: true }));
  const listed = spawnSync(process.execPath, [bundle.entry, '--profiles'], { cwd: outside, encoding: 'utf8' });
  assert.equal(listed.status, 0, listed.stderr);
  assert.deepEqual(listed.stdout.trim().split('\n'), listProfileNames());
  const printed = spawnSync(process.execPath, [bundle.entry, '--print-profile', 'rpi5-arm64'], { cwd: outside, encoding: 'utf8' });
  assert.equal(printed.status, 0, printed.stderr);
  assert.deepEqual(JSON.parse(printed.stdout), loadProfile('rpi5-arm64'));
  const unknown = spawnSync(process.execPath, [bundle.entry, '--print-profile', 'nope'], { cwd: outside, encoding: 'utf8' });
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /WF_PROFILE_UNKNOWN: unknown firmware profile 'nope'; known: armv7l-sbc, rpi4-arm64/);
});

test('bundleProblems refuses native and server-side inputs and non-built-in externals', () => {
  const problems = bundleProblems({
    inputs: {
      'node_modules/better-sqlite3/lib/index.js': { bytes: 1, imports: [] },
      'dist/fleet-api/store.js': { bytes: 1, imports: [] },
      'node_modules/@fastify/swagger/index.js': { bytes: 1, imports: [] },
      'dist/device-agent/agent.js': { bytes: 1, imports: [] },
    },
    outputs: {
      'out/a.mjs': {
        bytes: 1,
        inputs: {},
        exports: [],
        imports: [
          { path: 'node:fs', kind: 'import-statement', external: true },
          { path: 'left-pad', kind: 'require-call', external: true },
        ],
      },
    },
  } as never);
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(problems.join('\n'), /left-pad/);
});

test('the bundle entry parses its few flags by hand', () => {
  assert.deepEqual(parseEntryArgs(['--config', 'a.json']), { kind: 'run', config: 'a.json' });
  assert.deepEqual(parseEntryArgs(['--config=b.json']), { kind: 'run', config: 'b.json' });
  assert.deepEqual(parseEntryArgs(['--version']), { kind: 'version' });
  assert.deepEqual(parseEntryArgs(['--profiles']), { kind: 'profiles' });
  assert.deepEqual(parseEntryArgs(['--print-profile', 'x64-edge']), { kind: 'print-profile', name: 'x64-edge' });
  assert.equal(parseEntryArgs(['--print-profile']).kind, 'error');
  assert.equal(parseEntryArgs([]).kind, 'error');
  assert.equal(parseEntryArgs(['--config']).kind, 'error');
  assert.equal(parseEntryArgs(['--nope']).kind, 'error');
});

test('unit and scripts carry the hardening and pass sh -n', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-gwfiles-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of listProfileNames()) {
    const target = { deviceId: 'gw-9', profile: loadProfile(name) };
    const unit = systemdUnit(target);
    for (const line of ['Restart=always', 'RestartSec=5', 'User=wasmfleet', 'ProtectSystem=strict', 'ProtectHome=yes', 'NoNewPrivileges=yes',
      'PrivateTmp=yes', 'StateDirectory=wasmfleet', 'ReadWritePaths=/var/lib/wasmfleet', `MemoryMax=${memoryMaxMiB(target.profile)}M`]) {
      assert.ok(unit.split('\n').includes(line), `${name}: unit has ${line}`);
    }
    assert.equal(unit.match(/^ReadWritePaths=/gm)?.length, 1, 'only the state dir is writable');
    // The launch environment the footprint bench measures with (bundle/launch.ts) is the unit's.
    for (const [variable, value] of Object.entries(AGENT_ENVIRONMENT)) assert.ok(unit.split('\n').includes(`Environment=${variable}=${value}`), `${name}: unit sets ${variable}`);
    assert.match(unit, new RegExp(`^ExecStart=\\S+ ${AGENT_NODE_FLAGS.join(' ')} /\\S+/wasmfleet-agent\\.mjs --config `, 'm'), `${name}: unit starts node with the agent's flags`);
    if (target.profile.install.groups.length > 0) assert.ok(unit.split('\n').includes(`SupplementaryGroups=${target.profile.install.groups.join(' ')}`), `${name}: sensor groups`);
    const withNode = { ...target, bundledNode: '20.20.2' };
    assert.match(installScript(withNode), /"\$HERE\/runtime\/node" -e 0 .*\|\| die "the bundled Node runtime is for /);
    assert.match(systemdUnit(withNode), /Node 20\.20\.2 \(\w+\) travels with the agent/);
    writeFileSync(join(dir, 'install-with-node.sh'), installScript(withNode));
    assert.equal(spawnSync('sh', ['-n', join(dir, 'install-with-node.sh')]).status, 0, `${name}: install.sh with a runtime passes sh -n`);
    const install = installScript(target);
    assert.match(install, new RegExp(`MIN_NODE=${target.profile.minNodeVersion.replace(/\./g, '\\.')}`));
    assert.match(install, /systemctl daemon-reload/);
    assert.match(install, /systemctl enable wasmfleet-agent\.service/);
    for (const [file, text] of [['install.sh', install], ['uninstall.sh', uninstallScript(target)]] as const) {
      writeFileSync(join(dir, file), text);
      const checked = spawnSync('sh', ['-n', join(dir, file)], { encoding: 'utf8' });
      assert.equal(checked.status, 0, `${name} ${file}: ${checked.stderr}`);
    }
  }
});
