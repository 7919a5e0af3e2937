/**
 * The on-disk, content-addressed module cache: `modules/<sha256>.module`, one line of JSON
 * (`{ sha256, size, manifest }`) then the module's bytes. One file per module, not a `.wasm` and a
 * `.json`: each new file on an apply is an inode, a temporary file, an fsync and a rename (on ext4
 * without a journal the inode alone scans every recently freed one; docs/agent.md §An apply on
 * all threads). Entries an older agent wrote as that pair are still read.
 * Only modules that passed verification are written. A read re-hashes the
 * bytes against the file name, because disks (SD cards above all) corrupt and truncate: an entry
 * that does not hash to its name is deleted, counted, and the caller fetches it again.
 * Owns the files under `modules/`; it does not decide what is verified or referenced.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { reasonOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { schemaProblems } from '../../common/validate.js';
import { isSha256Hex, ManifestSchema, sha256Hex, type Manifest } from '../../protocol/index.js';
import { agentErrors } from '../errors.js';
import type { VerifiedModule } from '../module-verify.js';
import { removeStaleTemps, writeFilesAtomic } from './atomic-file.js';

/**
 * Disk budget for cached modules. Modules are capped at a few MiB each and a gateway runs a
 * handful, so 64 MiB keeps the current set plus recent versions for a quick rollback, while
 * staying small next to the results spool on an 8 GB SD card.
 */
export const MAX_DISK_CACHE_BYTES = 64 * 1024 * 1024;

export interface ModuleStoreStats {
  readonly corrupt: number;
  readonly writeFailures: number;
  readonly evicted: number;
}

export class ModuleStore {
  readonly dir: string;
  private readonly counters = { corrupt: 0, writeFailures: 0, evicted: 0 };
  /** Writes in flight, so a caller can wait for the cache to be on disk (before desired.json). */
  private readonly writing = new Set<Promise<void>>();

  constructor(
    stateDir: string,
    private readonly logger: Logger,
    private readonly maxBytes = MAX_DISK_CACHE_BYTES,
  ) {
    this.dir = join(stateDir, 'modules');
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (error) {
      // Not fatal: modules then run from memory and the broker; each failed write is logged.
      logger.error('module cache directory unusable', { path: this.dir, error: reasonOf(error) });
    }
    removeStaleTemps(this.dir);
  }

  /** The entry for `sha256`, re-hashed; a corrupt or incomplete one is deleted and undefined returned. */
  read(sha256: string): VerifiedModule | undefined {
    if (!isSha256Hex(sha256)) return undefined;
    // A module not cached yet is the common case in a rollout: asked first, so the miss costs a
    // stat, not a thrown ENOENT (2.2% of an agents process's busy time in a 2,000-device rollout).
    if (!existsSync(this.entryPath(sha256))) return existsSync(this.wasmPath(sha256)) ? this.readPair(sha256) : undefined;
    let file: Buffer;
    try {
      file = readFileSync(this.entryPath(sha256));
    } catch {
      return undefined;
    }
    const newline = file.indexOf(0x0a);
    if (newline < 0) {
      this.discard(sha256, 'its manifest line is missing');
      return undefined;
    }
    return this.checked(sha256, new Uint8Array(file.subarray(newline + 1)), file.toString('utf8', 0, newline));
  }

  /** An entry as older agents wrote it: `<sha256>.wasm` and `<sha256>.json`. */
  private readPair(sha256: string): VerifiedModule | undefined {
    let wasm: Uint8Array<ArrayBuffer>;
    let meta: string;
    try {
      wasm = new Uint8Array(readFileSync(this.wasmPath(sha256)));
    } catch {
      return undefined;
    }
    try {
      meta = readFileSync(this.metaPath(sha256), 'utf8');
    } catch {
      this.discard(sha256, 'its manifest file is missing');
      return undefined;
    }
    return this.checked(sha256, wasm, meta);
  }

  private checked(sha256: string, wasm: Uint8Array<ArrayBuffer>, meta: string): VerifiedModule | undefined {
    const actual = sha256Hex(wasm);
    if (actual !== sha256) {
      this.discard(sha256, `the bytes hash to ${actual} (${wasm.byteLength} bytes)`);
      return undefined;
    }
    let manifest: unknown;
    try {
      manifest = (JSON.parse(meta) as { manifest?: unknown }).manifest;
    } catch (error) {
      this.discard(sha256, `its manifest is not JSON: ${reasonOf(error)}`);
      return undefined;
    }
    const problems = schemaProblems(ManifestSchema, manifest);
    if (problems.length > 0) {
      this.discard(sha256, `its manifest is invalid at '${problems[0]!.field}'`);
      return undefined;
    }
    return { sha256, manifest: manifest as Manifest, wasm };
  }

  /** Writes a verified module; never rejects: a failure is logged and counted, the agent goes on. */
  write(module: VerifiedModule): Promise<void> {
    const job = this.writeEntry(module).finally(() => this.writing.delete(job));
    this.writing.add(job);
    return job;
  }

  /** Resolves when every write started so far has settled. */
  async idle(): Promise<void> {
    await Promise.all([...this.writing]);
  }

  /**
   * Evicts entries not in `keep` (the last applied desired state), oldest first, until the cache
   * fits its budget. Referenced entries are never evicted: the device needs them to resume.
   */
  prune(keep: ReadonlySet<string>): void {
    const entries = this.list();
    let total = entries.reduce((sum, entry) => sum + entry.bytes, 0);
    if (total <= this.maxBytes) return;
    for (const entry of entries.sort((a, b) => a.mtimeMs - b.mtimeMs)) {
      if (total <= this.maxBytes) break;
      if (keep.has(entry.sha256)) continue;
      this.remove(entry.sha256);
      total -= entry.bytes;
      this.counters.evicted += 1;
      this.logger.info('cached module evicted', { sha256: entry.sha256, bytes: entry.bytes });
    }
    if (total > this.maxBytes) this.logger.warn('module cache over budget with referenced modules only', { bytes: total, maxBytes: this.maxBytes });
  }

  stats(): ModuleStoreStats {
    return { ...this.counters };
  }

  private async writeEntry(module: VerifiedModule): Promise<void> {
    const meta = JSON.stringify({ sha256: module.sha256, size: module.wasm.byteLength, manifest: module.manifest }) + '\n';
    try {
      // One file, so one temporary file, fsync and rename (the manifest and the bytes were two,
      // with one directory fsync). desired.json, which names the module, is written only after
      // this resolves.
      const header = Buffer.from(meta);
      const entry = new Uint8Array(header.byteLength + module.wasm.byteLength);
      entry.set(header);
      entry.set(module.wasm, header.byteLength);
      await writeFilesAtomic(this.dir, [{ name: entryName(module.sha256), data: entry }]);
    } catch (error) {
      this.counters.writeFailures += 1;
      const failure = agentErrors.WF_AGENT_STATE_WRITE_FAILED({ what: `module ${module.manifest.name}@${module.manifest.version}`, path: this.entryPath(module.sha256), reason: reasonOf(error) });
      this.logger.error('module not cached on disk; it will be fetched again after a restart', { code: failure.code, error: failure.message });
    }
  }

  private list(): { sha256: string; bytes: number; mtimeMs: number }[] {
    const bySha = new Map<string, { sha256: string; bytes: number; mtimeMs: number }>();
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    for (const name of names) {
      const [sha256, extension, ...rest] = name.split('.');
      if (sha256 === undefined || !isSha256Hex(sha256) || (extension !== 'module' && extension !== 'wasm' && extension !== 'json') || rest.length > 0) continue;
      let stat;
      try {
        stat = statSync(join(this.dir, name));
      } catch {
        continue;
      }
      const entry = bySha.get(sha256) ?? { sha256, bytes: 0, mtimeMs: stat.mtimeMs };
      entry.bytes += stat.size;
      entry.mtimeMs = Math.min(entry.mtimeMs, stat.mtimeMs);
      bySha.set(entry.sha256, entry);
    }
    return [...bySha.values()];
  }

  private discard(sha256: string, reason: string): void {
    this.counters.corrupt += 1;
    const error = agentErrors.WF_AGENT_CACHE_CORRUPT({ sha256, reason });
    this.logger.error('corrupt module cache entry discarded; it will be fetched again', { code: error.code, error: error.message });
    this.remove(sha256);
  }

  private remove(sha256: string): void {
    for (const path of [this.entryPath(sha256), this.wasmPath(sha256), this.metaPath(sha256)]) {
      try {
        unlinkSync(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn('cache file not removed', { path, error: reasonOf(error) });
      }
    }
  }

  private entryPath(sha256: string): string {
    return join(this.dir, entryName(sha256));
  }

  private wasmPath(sha256: string): string {
    return join(this.dir, `${sha256}.wasm`);
  }

  private metaPath(sha256: string): string {
    return join(this.dir, `${sha256}.json`);
  }
}

/** The one file of an entry, relative to the cache directory. */
function entryName(sha256: string): string {
  return `${sha256}.module`;
}
