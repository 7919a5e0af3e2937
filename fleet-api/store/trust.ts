/** Root-signed trusted-keys lists (docs/security.md): every version kept, the highest in force. */
import type { TrustedKeys } from '../../protocol/index.js';
import { nowIso, type Db } from './core.js';

export function trustOps(db: Db) {
  const insert = db.prepare('INSERT INTO trusted_keys_lists (version, document, created_at) VALUES (?, ?, ?)');
  const latest = db.prepare('SELECT document FROM trusted_keys_lists ORDER BY version DESC LIMIT 1').pluck();

  return {
    currentTrustedKeys(): TrustedKeys | undefined {
      const document = latest.get() as string | undefined;
      return document === undefined ? undefined : (JSON.parse(document) as TrustedKeys);
    },
    /** Throws SqliteError (SQLITE_CONSTRAINT_PRIMARYKEY) when that version exists. */
    insertTrustedKeys(list: TrustedKeys): void {
      insert.run(list.version, JSON.stringify(list), nowIso());
    },
  };
}

export type TrustOps = ReturnType<typeof trustOps>;
