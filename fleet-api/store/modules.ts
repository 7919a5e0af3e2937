/** Module catalogue: content-addressed binaries with their manifests, unique by name@version and by hash. */
import type { Manifest, Signature } from '../../protocol/index.js';
import { nowIso, type Db } from './core.js';

export interface ModuleSummary {
  name: string;
  version: string;
  sha256: string;
  size: number;
  createdAt: string;
}

export interface ModuleRecord extends ModuleSummary {
  manifest: Manifest;
  /** The publisher's, over manifest, size and sha256 (docs/security.md). */
  signatures: Signature[];
}

interface ModuleRow {
  name: string;
  version: string;
  sha256: string;
  size: number;
  manifest: string;
  signatures: string;
  created_at: string;
}

const toRecord = (row: ModuleRow): ModuleRecord => ({
  name: row.name,
  version: row.version,
  sha256: row.sha256,
  size: row.size,
  createdAt: row.created_at,
  manifest: JSON.parse(row.manifest) as Manifest,
  signatures: JSON.parse(row.signatures) as Signature[],
});

export function moduleOps(db: Db) {
  const insert = db.prepare('INSERT INTO modules (name, version, sha256, size, manifest, signatures, wasm, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const get = db.prepare('SELECT name, version, sha256, size, manifest, signatures, created_at FROM modules WHERE name = ? AND version = ?');
  const bySha = db.prepare('SELECT name, version, sha256, size, manifest, signatures, created_at FROM modules WHERE sha256 = ?');
  const list = db.prepare('SELECT name, version, sha256, size, created_at FROM modules ORDER BY name, created_at');
  const listByName = db.prepare('SELECT name, version, sha256, size, created_at FROM modules WHERE name = ? ORDER BY created_at');
  const wasm = db.prepare('SELECT wasm FROM modules WHERE sha256 = ?').pluck();
  const shas = db.prepare('SELECT sha256 FROM modules ORDER BY created_at').pluck();

  const summary = (row: Omit<ModuleRow, 'manifest' | 'signatures'>): ModuleSummary => ({
    name: row.name,
    version: row.version,
    sha256: row.sha256,
    size: row.size,
    createdAt: row.created_at,
  });

  return {
    /** Throws SqliteError with a constraint code when name@version or the hash exists. */
    insertModule(input: { manifest: Manifest; sha256: string; wasm: Uint8Array; signatures: readonly Signature[] }): ModuleRecord {
      const { manifest } = input;
      insert.run(manifest.name, manifest.version, input.sha256, input.wasm.byteLength, JSON.stringify(manifest), JSON.stringify(input.signatures), Buffer.from(input.wasm), nowIso());
      return toRecord(get.get(manifest.name, manifest.version) as ModuleRow);
    },
    getModule(name: string, version: string): ModuleRecord | undefined {
      const row = get.get(name, version) as ModuleRow | undefined;
      return row && toRecord(row);
    },
    moduleBySha(sha256: string): ModuleRecord | undefined {
      const row = bySha.get(sha256) as ModuleRow | undefined;
      return row && toRecord(row);
    },
    listModules(name?: string): ModuleSummary[] {
      const rows = (name === undefined ? list.all() : listByName.all(name)) as Array<Omit<ModuleRow, 'manifest' | 'signatures'>>;
      return rows.map(summary);
    },
    moduleWasm(sha256: string): Buffer | undefined {
      return wasm.get(sha256) as Buffer | undefined;
    },
    moduleShas(): string[] {
      return shas.all() as string[];
    },
  };
}

export type ModuleOps = ReturnType<typeof moduleOps>;
