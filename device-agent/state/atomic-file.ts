/**
 * Whole-file replacement that survives a crash or power cut at any point: the new content goes to
 * a temporary file in the same directory (rename is only atomic within one filesystem), is
 * fsynced, renamed over the target, and the directory is fsynced so the rename itself is durable.
 * A reader sees the old file or the new one, never a mix. Owns nothing but this discipline.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Temporary names end with this, so leftovers of a crash can be recognised and removed. */
export const TEMP_SUFFIX = '.tmp';

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  // Unique per write: two writers of the same target must not share (and truncate) one temp file.
  const temporary = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
  try {
    const file = await open(temporary, 'wx', 0o600);
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch {
    // Some platforms (Windows) cannot open a directory; the rename is then as durable as it gets.
    return;
  }
  try {
    await handle.sync();
  } catch (error) {
    // EINVAL/EISDIR: the filesystem does not support fsync on directories (some FUSE, tmpfs).
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw error;
  } finally {
    await handle.close();
  }
}

/** Removes temporary files a crash left behind in `dir`; returns how many were removed. */
export function removeStaleTemps(dir: string): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.startsWith('.') || !name.endsWith(TEMP_SUFFIX)) continue;
    try {
      unlinkSync(join(dir, name));
      removed += 1;
    } catch {
      // Gone already, or not ours to remove; either way it is never read.
    }
  }
  return removed;
}
