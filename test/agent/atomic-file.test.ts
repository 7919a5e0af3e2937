/** writeFileAtomic (and writeFilesAtomic for a set): the target holds the old content or the new, never a part; failures leave no temp behind. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { fromRoot } from '../../common/paths.js';
import { removeStaleTemps, writeFileAtomic, writeFilesAtomic } from '../../device-agent/state/atomic-file.js';
import { tempDir } from './helpers.js';

test('writes a new file and replaces an existing one whole, leaving no temporary file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'state.json');
  await writeFileAtomic(path, '{"a":1}\n');
  assert.equal(readFileSync(path, 'utf8'), '{"a":1}\n');
  await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...readFileSync(path)], [1, 2, 3]);
  assert.deepEqual(readdirSync(dir), ['state.json']);
});

test('a write into a path that cannot exist fails and changes nothing', async (t) => {
  const dir = tempDir(t);
  const previous = join(dir, 'previous');
  writeFileSync(previous, 'old');
  await assert.rejects(writeFileAtomic(join(previous, 'child.json'), 'new'), { code: 'ENOTDIR' });
  await assert.rejects(writeFileAtomic(join(dir, 'missing', 'x.json'), 'new'), { code: 'ENOENT' });
  assert.equal(readFileSync(previous, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['previous']);
});

test('a write that fails midway (file size limit) leaves the previous file intact and removes its temp', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'desired.json');
  writeFileSync(path, 'previous content');
  const module = pathToFileURL(fromRoot('dist', 'device-agent', 'state', 'atomic-file.js')).href;
  // RLIMIT_FSIZE makes the kernel refuse the write with EFBIG (Node ignores SIGXFSZ), which no
  // permission bit can do for root. 1 KiB limit, 64 KiB write.
  const script = `import(${JSON.stringify(module)}).then(m => m.writeFileAtomic(${JSON.stringify(path)}, 'x'.repeat(65536))).then(() => console.log('written'), (e) => console.log(e.code))`;
  const run = spawnSync('bash', ['-c', 'ulimit -f 1 && exec "$0" --input-type=module -e "$1"', process.execPath, script], { encoding: 'utf8' });
  assert.equal(run.stdout.trim(), 'EFBIG', run.stderr);
  assert.equal(readFileSync(path, 'utf8'), 'previous content');
  assert.deepEqual(readdirSync(dir), ['desired.json']);
});

test('temporary files left by a crash are removed; other files are not', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, '.desired.json.123.abcd.tmp'), 'partial');
  writeFileSync(join(dir, 'desired.json'), 'whole');
  writeFileSync(join(dir, 'result-seq.json.tmp'), 'not ours');
  assert.equal(removeStaleTemps(dir), 1);
  assert.deepEqual(readdirSync(dir).sort(), ['desired.json', 'result-seq.json.tmp']);
});

test('several files of one directory are replaced whole with one directory fsync; a failure leaves no temp', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'a.json'), 'old a');
  await writeFilesAtomic(dir, [
    { name: 'a.json', data: 'new a' },
    { name: 'b.wasm', data: new Uint8Array([0, 97, 115, 109]) },
  ]);
  assert.equal(readFileSync(join(dir, 'a.json'), 'utf8'), 'new a');
  assert.deepEqual([...readFileSync(join(dir, 'b.wasm'))], [0, 97, 115, 109]);
  assert.deepEqual(readdirSync(dir).sort(), ['a.json', 'b.wasm']);
  await assert.rejects(writeFilesAtomic(join(dir, 'missing'), [{ name: 'x', data: '1' }, { name: 'y', data: '2' }]), { code: 'ENOENT' });
  assert.deepEqual(readdirSync(dir).sort(), ['a.json', 'b.wasm']);
});
