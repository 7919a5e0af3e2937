/**
 * Bench-only instrumentation: wall time the process spends writing SQLite through better-sqlite3,
 * i.e. outermost transactions (their statements and commit) plus statements `run` outside any
 * transaction. Patched on better-sqlite3's prototypes, so every store opened in this process is
 * metered whether its transactions were built before or after; nested transactions (savepoints)
 * and statements inside a transaction count once, in their outermost transaction.
 */
import Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';

let totalMs = 0;
let installed = false;

type Fn = (...args: unknown[]) => unknown;

export function meterSqliteWrites(): { seconds(): number } {
  if (!installed) {
    installed = true;
    const probe = new Database(':memory:');
    const statementProto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as { run: Fn };
    probe.close();
    const run = statementProto.run;
    statementProto.run = function (this: { database: Database.Database }, ...args: unknown[]) {
      if (this.database.inTransaction) return run.apply(this, args);
      const started = performance.now();
      try {
        return run.apply(this, args);
      } finally {
        totalMs += performance.now() - started;
      }
    };
    const dbProto = Database.prototype as unknown as { transaction: (this: Database.Database, fn: Fn) => Fn };
    const transaction = dbProto.transaction;
    dbProto.transaction = function (this: Database.Database, fn: Fn) {
      const wrapped = transaction.call(this, fn) as Fn & Record<string, Fn>;
      const db = this;
      const timed = function (this: unknown, ...args: unknown[]) {
        if (db.inTransaction) return wrapped.apply(this, args);
        const started = performance.now();
        try {
          return wrapped.apply(this, args);
        } finally {
          totalMs += performance.now() - started;
        }
      };
      // .deferred/.immediate/.exclusive variants stay available (untimed: the store does not use them).
      for (const key of ['deferred', 'immediate', 'exclusive', 'database']) {
        if (key in wrapped) (timed as unknown as Record<string, unknown>)[key] = wrapped[key];
      }
      return timed;
    };
  }
  return { seconds: () => totalMs / 1000 };
}
