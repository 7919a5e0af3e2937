/**
 * Opens the fleet database: WAL (readers never block the ingesting writer), foreign keys on,
 * migrations applied under a schema_version table. Misuse throws TypeError naming the argument;
 * database failures surface as better-sqlite3's SqliteError with SQLite's own code.
 */
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export function openDatabase(path: string): Db {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('openStore(path): path must be a non-empty string');
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    // WAL makes NORMAL durable against application crashes; only a power cut can lose the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    // A statement that fires triggers (the fleet counts) keeps a statement journal; inside a large
    // transaction nearly every page it touches is already dirty, so that journal outgrows its
    // in-memory buffer and, with temp files, costs a pwrite per page: 4x the insert time of 10,000
    // devices. Temp storage in memory removes that.
    db.pragma('temp_store = MEMORY');
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  let current = row?.version ?? 0;
  if (current > MIGRATIONS.length) {
    throw new RangeError(`database schema version ${current} is newer than this fleet-api (${MIGRATIONS.length})`);
  }
  if (!row) db.prepare('INSERT INTO schema_version (version) VALUES (0)').run();
  const setVersion = db.prepare('UPDATE schema_version SET version = ?');
  while (current < MIGRATIONS.length) {
    const sql = MIGRATIONS[current]!;
    db.transaction(() => {
      db.exec(sql);
      setVersion.run(current + 1);
    })();
    current += 1;
  }
}

export const nowIso = (): string => new Date().toISOString();
