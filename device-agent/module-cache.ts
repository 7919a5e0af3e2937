/**
 * Content-addressed cache of verified modules: in memory, bounded in bytes (least recently used
 * goes first), over the on-disk store when one is given (state/module-store.ts), so a restart
 * without a broker still finds its modules. Keyed by sha256 only: the same bytes deployed under
 * two entries are fetched once, and every use re-checks the entry's name and version
 * (module-verify.ts).
 */
import type { VerifiedModule } from './module-verify.js';
import type { ModuleStore } from './state/module-store.js';

export const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;

export class ModuleCache {
  private readonly entries = new Map<string, VerifiedModule>();
  private bytes = 0;

  constructor(
    private readonly maxBytes = DEFAULT_CACHE_BYTES,
    private readonly store?: ModuleStore,
  ) {}

  get(sha256: string): VerifiedModule | undefined {
    const entry = this.entries.get(sha256);
    if (entry) {
      this.entries.delete(sha256);
      this.entries.set(sha256, entry);
      return entry;
    }
    // The store re-hashes what it reads and discards a corrupt entry, so a miss here means fetch.
    const stored = this.store?.read(sha256);
    if (stored) this.remember(stored);
    return stored;
  }

  /** Caches a module that passed verification, in memory and (not awaited) on disk. */
  put(module: VerifiedModule): void {
    if (this.entries.has(module.sha256)) return;
    this.remember(module);
    void this.store?.write(module);
  }

  get size(): number {
    return this.entries.size;
  }

  private remember(module: VerifiedModule): void {
    this.entries.set(module.sha256, module);
    this.bytes += module.wasm.byteLength;
    for (const [sha, entry] of this.entries) {
      if (this.bytes <= this.maxBytes || sha === module.sha256) break;
      this.entries.delete(sha);
      this.bytes -= entry.wasm.byteLength;
    }
  }
}
