/**
 * In-memory, content-addressed cache of verified modules, bounded in bytes (least recently used
 * goes first). Keyed by sha256 only: the same bytes deployed under two entries are fetched once,
 * and every use re-checks the entry's name and version (module-verify.ts). A disk cache for
 * offline restarts will sit behind the same get/put.
 */
import type { VerifiedModule } from './module-verify.js';

export const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;

export class ModuleCache {
  private readonly entries = new Map<string, VerifiedModule>();
  private bytes = 0;

  constructor(private readonly maxBytes = DEFAULT_CACHE_BYTES) {}

  get(sha256: string): VerifiedModule | undefined {
    const entry = this.entries.get(sha256);
    if (entry) {
      this.entries.delete(sha256);
      this.entries.set(sha256, entry);
    }
    return entry;
  }

  put(module: VerifiedModule): void {
    if (this.entries.has(module.sha256)) return;
    this.entries.set(module.sha256, module);
    this.bytes += module.wasm.byteLength;
    for (const [sha, entry] of this.entries) {
      if (this.bytes <= this.maxBytes || sha === module.sha256) break;
      this.entries.delete(sha);
      this.bytes -= entry.wasm.byteLength;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
