/**
 * What the hub relays down the tree, on its own disk so a hub restarted during an outage still
 * serves its devices: the last desired state received per device (`desired/{deviceId}`) and the
 * module envelopes those name, content-addressed (`modules/{sha256}`). Bytes are kept exactly as
 * received; agents verify them, the hub does not and cannot sign anything.
 *
 * Owns: the two folders and their in-memory index. Must not: interpret a payload beyond what the
 * caller asks it to keep.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { reasonOf } from '../common/errors.js';
import { writeFileAtomic, TEMP_SUFFIX } from '../device-agent/state/atomic-file.js';
import { isDeviceId, isSha256Hex } from '../protocol/ids.js';
import { hubErrors } from './errors.js';

type Kind = 'desired' | 'modules';

export class RelayStore {
  readonly #dirs: Record<Kind, string>;
  readonly #entries: Record<Kind, Map<string, Buffer>> = { desired: new Map(), modules: new Map() };

  constructor(dataDir: string) {
    this.#dirs = { desired: join(dataDir, 'desired'), modules: join(dataDir, 'modules') };
    const valid: Record<Kind, (name: string) => boolean> = { desired: isDeviceId, modules: isSha256Hex };
    for (const kind of ['desired', 'modules'] as const) {
      mkdirSync(this.#dirs[kind], { recursive: true });
      for (const name of readdirSync(this.#dirs[kind])) {
        // Leftovers of a write cut short, and anything that is not ours, are left alone.
        if (name.endsWith(TEMP_SUFFIX) || !valid[kind](name)) continue;
        this.#entries[kind].set(name, readFileSync(join(this.#dirs[kind], name)));
      }
    }
  }

  get(kind: Kind, key: string): Buffer | undefined {
    return this.#entries[kind].get(key);
  }

  entries(kind: Kind): IterableIterator<[string, Buffer]> {
    return this.#entries[kind].entries();
  }

  /** Durable before it resolves; the in-memory copy changes only once the file is written. */
  async put(kind: Kind, key: string, bytes: Buffer): Promise<void> {
    const path = join(this.#dirs[kind], key);
    try {
      await writeFileAtomic(path, bytes);
    } catch (error) {
      throw hubErrors.WF_HUB_STORE_FAILED({ what: kind, path, reason: reasonOf(error) });
    }
    this.#entries[kind].set(key, bytes);
  }

  async delete(kind: Kind, key: string): Promise<void> {
    this.#entries[kind].delete(key);
    await unlink(join(this.#dirs[kind], key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw hubErrors.WF_HUB_STORE_FAILED({ what: kind, path: join(this.#dirs[kind], key), reason: reasonOf(error) });
    });
  }
}
