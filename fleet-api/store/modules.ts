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

/** Something that still wants a module version, so it may not be deleted (docs/api.md §DELETE module). */
export type ModuleClaim =
  | { kind: 'deployment'; deploymentId: string; status: string }
  | { kind: 'desired'; deviceId: string }
  | { kind: 'previous'; deploymentId: string; deviceId: string };

/** A rollback of these puts each reached device's previous entry back (fleet-api/deployments/engine.ts). */
const ROLLBACKABLE = "('running', 'paused', 'completed', 'aborted', 'cancelled')";
/** Device rows a rollback skips: never reached, or already replaced or undone. */
const ROW_DONE = "('waiting', 'superseded', 'rolled-back', 'cancelled')";

export function moduleOps(db: Db) {
  const insert = db.prepare('INSERT INTO modules (name, version, sha256, size, manifest, signatures, wasm, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const get = db.prepare('SELECT name, version, sha256, size, manifest, signatures, created_at FROM modules WHERE name = ? AND version = ?');
  const bySha = db.prepare('SELECT name, version, sha256, size, manifest, signatures, created_at FROM modules WHERE sha256 = ?');
  const list = db.prepare('SELECT name, version, sha256, size, created_at FROM modules ORDER BY name, created_at');
  const listByName = db.prepare('SELECT name, version, sha256, size, created_at FROM modules WHERE name = ? ORDER BY created_at');
  const wasm = db.prepare('SELECT wasm FROM modules WHERE sha256 = ?').pluck();
  const shas = db.prepare('SELECT sha256 FROM modules ORDER BY created_at').pluck();
  const activeDeployments = db.prepare("SELECT id, status FROM deployments WHERE module = ? AND version = ? AND status IN ('running', 'paused') ORDER BY rowid LIMIT 20");
  const desiredBy = db.prepare(
    `SELECT id FROM devices WHERE desired IS NOT NULL AND EXISTS (
       SELECT 1 FROM json_each(devices.desired, '$.modules') m
       WHERE json_extract(m.value, '$.name') = ? AND json_extract(m.value, '$.version') = ?) ORDER BY id LIMIT 20`,
  ).pluck();
  const previousOf = db.prepare(
    `SELECT dd.deployment_id, dd.device_id FROM deployment_devices dd JOIN deployments d ON d.id = dd.deployment_id
     WHERE d.status IN ${ROLLBACKABLE} AND dd.state NOT IN ${ROW_DONE} AND dd.previous IS NOT NULL
       AND json_extract(dd.previous, '$.name') = ? AND json_extract(dd.previous, '$.version') = ? LIMIT 20`,
  );
  const deleteDeployments = db.prepare('DELETE FROM deployments WHERE module = ? AND version = ?');
  const deleteOne = db.prepare('DELETE FROM modules WHERE name = ? AND version = ?');

  const summary = (row: Omit<ModuleRow, 'manifest' | 'signatures'>): ModuleSummary => ({
    name: row.name,
    version: row.version,
    sha256: row.sha256,
    size: row.size,
    createdAt: row.created_at,
  });

  const claimsOf = (name: string, version: string): ModuleClaim[] => {
    const claims: ModuleClaim[] = [];
    for (const row of activeDeployments.all(name, version) as Array<{ id: string; status: string }>) claims.push({ kind: 'deployment', deploymentId: row.id, status: row.status });
    for (const deviceId of desiredBy.all(name, version) as string[]) claims.push({ kind: 'desired', deviceId });
    for (const row of previousOf.all(name, version) as Array<{ deployment_id: string; device_id: string }>) {
      claims.push({ kind: 'previous', deploymentId: row.deployment_id, deviceId: row.device_id });
    }
    return claims;
  };

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
    /** What still wants name@version (up to 20 of each kind); empty when it may be deleted. */
    moduleClaims: claimsOf,
    /**
     * Deletes name@version with its finished deployments (their device rows cascade), in one
     * transaction that checks the claims again, so a deployment created meanwhile wins.
     */
    deleteModule(name: string, version: string): { deleted: true; module: ModuleSummary; deploymentsRemoved: number } | { deleted: false; reason: 'missing' } | { deleted: false; reason: 'claimed'; claims: ModuleClaim[] } {
      return db.transaction(() => {
        const row = get.get(name, version) as ModuleRow | undefined;
        if (!row) return { deleted: false as const, reason: 'missing' as const };
        const claims = claimsOf(name, version);
        if (claims.length > 0) return { deleted: false as const, reason: 'claimed' as const, claims };
        const deploymentsRemoved = deleteDeployments.run(name, version).changes;
        deleteOne.run(name, version);
        return { deleted: true as const, module: summary(row), deploymentsRemoved };
      })();
    },
  };
}

export type ModuleOps = ReturnType<typeof moduleOps>;
