/**
 * Prepares each distinct SQL text once, for queries whose shape depends on optional filters. With
 * a `prefix` (a long select list shared by every shape) the key is the rest of the text alone.
 *
 * Preparing once is not enough if SQLite prepares again on every run, which it does for a
 * statement with a bare parameter as its LIMIT (`LIMIT ?`) or as a LIKE or GLOB pattern
 * (`LIKE ?`): the SQLite in our better-sqlite3 (3.53) lets those values steer the plan, so binding one
 * marks the statement stale and the next step parses and plans it again, each run (better-sqlite3
 * binds on every call). Every store statement therefore writes `LIMIT ? + 0` and `LIKE (? || '')`:
 * the same values, no say in the plan, and EXPLAIN QUERY PLAN of each is the same either way. That
 * saves ~10 us a run (the results query warm: docs/operations.md, ingest under query); OFFSET ?
 * and `= ?` measured no different, so they stay. test/api/store-sql-parameters.test.ts holds every
 * store file's SQL to this.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './core.js';

export function statementCache(db: Db, max = 64, prefix = ''): (sql: string) => Statement {
  const cache = new Map<string, Statement>();
  return (sql) => {
    let statement = cache.get(sql);
    if (!statement) {
      // Filter combinations are few, but cap anyway so no input can grow this without bound.
      if (cache.size >= max) cache.clear();
      statement = db.prepare(prefix + sql);
      cache.set(sql, statement);
    }
    return statement;
  };
}
