/**
 * What a new file costs the file system the agents' state lives on, as an apply makes them (a
 * directory per device, a temporary file written, fsynced, renamed): CPU per file (all threads:
 * the pool does the calls) in a quiet moment, then right after 50,000 files were deleted. On ext4
 * without a journal, every inode freed recently is skipped, and read about, at each new inode
 * (docs/agent.md §An apply on all threads); run it under `perf record -g` to see `find_inode_bit`.
 *
 *   node dist/bench/scale/file-create.js            # WF_FILES=2000, in os.tmpdir()
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FILES = Number(process.env.WF_FILES ?? 2000);
const data = Buffer.alloc(3300, 7);
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function createFiles(label: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wf-file-create-'));
  try {
    const from = cpuMs();
    for (let i = 0; i < FILES; i += 64) {
      await Promise.all(
        Array.from({ length: Math.min(64, FILES - i) }, async (_, k) => {
          const device = join(dir, `dev-${i + k}`);
          mkdirSync(device);
          const file = await open(join(device, '.state.tmp'), 'wx', 0o600);
          await file.write(data);
          await file.sync();
          await file.close();
          await rename(join(device, '.state.tmp'), join(device, 'state'));
        }),
      );
    }
    console.log(JSON.stringify({ label, files: FILES, msPerFile: +((cpuMs() - from) / FILES).toFixed(3) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await createFiles('quiet');
const junk = mkdtempSync(join(tmpdir(), 'wf-file-create-junk-'));
for (let d = 0; d < 200; d++) {
  mkdirSync(join(junk, `d${d}`));
  for (let f = 0; f < 250; f++) writeFileSync(join(junk, `d${d}`, `f${f}`), 'x');
}
rmSync(junk, { recursive: true, force: true });
await createFiles('right after 50,000 files deleted');
