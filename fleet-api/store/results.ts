/**
 * Results: batches ingested idempotently by (device_id, seq), points and events queried with
 * keyset pagination on (t, seq, id) so a page never skips or repeats rows under concurrent writes.
 */
import type { ResultBatch } from '../../protocol/index.js';
import type { Db } from './core.js';
import { statementCache } from './statements.js';
import { rollupOps } from './rollups.js';

export type ResultKind = 'metric' | 'event';

export interface ResultRow {
  id: number;
  kind: ResultKind;
  seq: number;
  module: string;
  version: string;
  deploymentId: string;
  metric: string;
  t: number;
  value: number;
}

export interface ResultQuery {
  deviceId: string;
  module?: string;
  metric?: string;
  kind?: ResultKind;
  /** Epoch milliseconds, inclusive. */
  from?: number;
  /** Epoch milliseconds, exclusive. */
  to?: number;
  /** Position after which to continue: the last row of the previous page. */
  after?: { t: number; seq: number; id: number };
  limit: number;
}

export interface IngestOutcome {
  stored: number;
  duplicates: number;
  unknownDevice: number;
  rows: number;
  /** Per device, the seqs now in the database (stored by this call or before): what may be acked. */
  inDatabase: Map<string, number[]>;
  /** The batches this call stored (not duplicates, not unknown devices), in order. */
  fresh: ResultBatch[];
}

export function resultOps(db: Db) {
  const exists = db.prepare('SELECT 1 FROM devices WHERE id = ?').pluck();
  const claim = db.prepare(
    'INSERT OR IGNORE INTO result_batches (device_id, seq, module, version, deployment_id, dropped, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const insertRow = db.prepare(
    'INSERT INTO results (device_id, seq, kind, module, version, deployment_id, metric, t, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const deleteOld = db.prepare('DELETE FROM results WHERE t < ?');
  const deleteOldBatches = db.prepare('DELETE FROM result_batches WHERE received_at < ?');
  const nthNewest = db.prepare('SELECT id FROM results ORDER BY id DESC LIMIT 1 OFFSET ?').pluck();
  const deleteUpTo = db.prepare('DELETE FROM results WHERE id <= ?');
  const count = db.prepare('SELECT count(*) FROM results').pluck();
  const statements = statementCache(db);
  const rollups = rollupOps(db);

  const ingest = db.transaction((batches: readonly ResultBatch[], receivedAt: number): IngestOutcome => {
    const outcome: IngestOutcome = { stored: 0, duplicates: 0, unknownDevice: 0, rows: 0, inDatabase: new Map(), fresh: [] };
    const known = new Map<string, boolean>();
    for (const batch of batches) {
      let isKnown = known.get(batch.deviceId);
      if (isKnown === undefined) {
        isKnown = exists.get(batch.deviceId) !== undefined;
        known.set(batch.deviceId, isKnown);
      }
      // A deleted device's late results have nowhere to go (and would break the foreign key).
      if (!isKnown) {
        outcome.unknownDevice += 1;
        continue;
      }
      const { deviceId: d, seq, module: m, version: v, deploymentId: dep } = batch;
      let seqs = outcome.inDatabase.get(d);
      if (!seqs) outcome.inDatabase.set(d, (seqs = []));
      seqs.push(seq);
      if (claim.run(d, seq, m, v, dep, batch.dropped, receivedAt).changes === 0) {
        outcome.duplicates += 1;
        continue;
      }
      outcome.stored += 1;
      outcome.fresh.push(batch);
      rollups.addToRollups(batch);
      for (const metric of batch.metrics) {
        const { name, points } = metric;
        for (let i = 0; i < points.length; i++) {
          const point = points[i]!;
          insertRow.run(d, seq, 'metric', m, v, dep, name, point[0], point[1]);
        }
        outcome.rows += points.length;
      }
      for (const event of batch.events) {
        insertRow.run(d, seq, 'event', m, v, dep, event.name, event.t, event.value);
        outcome.rows += 1;
      }
    }
    return outcome;
  });

  return {
    /** One transaction for the whole buffer; a (device, seq) seen before is skipped. */
    ingestResultBatches(batches: readonly ResultBatch[], receivedAt = Date.now()): IngestOutcome {
      return ingest(batches, receivedAt);
    },
    queryResults(query: ResultQuery): ResultRow[] {
      const where = ['device_id = ?'];
      const args: unknown[] = [query.deviceId];
      const add = (clause: string, ...values: unknown[]) => {
        where.push(clause);
        args.push(...values);
      };
      if (query.module !== undefined) add('module = ?', query.module);
      if (query.metric !== undefined) add('metric = ?', query.metric);
      if (query.kind !== undefined) add('kind = ?', query.kind);
      if (query.from !== undefined) add('t >= ?', query.from);
      if (query.to !== undefined) add('t < ?', query.to);
      if (query.after !== undefined) add('(t, seq, id) > (?, ?, ?)', query.after.t, query.after.seq, query.after.id);
      // `? + 0`, not a bare `?`: SQLite would re-prepare the statement on every run (statements.ts).
      const sql = `SELECT id, kind, seq, module, version, deployment_id AS deploymentId, metric, t, value FROM results
        WHERE ${where.join(' AND ')} ORDER BY t, seq, id LIMIT ? + 0`;
      return statements(sql).all(...args, query.limit) as ResultRow[];
    },
    /** Drops points older than `beforeMs` and idempotency records received before it. */
    deleteResultsBefore(beforeMs: number): { rows: number; batches: number; rollups: number } {
      return db.transaction(() => ({
        rows: deleteOld.run(beforeMs).changes,
        batches: deleteOldBatches.run(beforeMs).changes,
        rollups: rollups.trimRollupsBefore(beforeMs),
      }))();
    },
    /** Keeps only the newest `maxRows` rows by insertion order. */
    trimResults(maxRows: number): number {
      const boundary = nthNewest.get(maxRows) as number | undefined;
      return boundary === undefined ? 0 : deleteUpTo.run(boundary).changes;
    },
    resultCount(): number {
      return count.get() as number;
    },
  };
}

export type ResultOps = ReturnType<typeof resultOps>;
