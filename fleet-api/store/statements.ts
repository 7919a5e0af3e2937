/**
 * Prepares each distinct SQL text once, for queries whose shape depends on optional filters. With
 * a `prefix` (a long select list shared by every shape) the key is the rest of the text alone.
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
