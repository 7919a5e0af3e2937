/**
 * The audit log: one row per change made through the API (and per token the platform creates
 * itself), with who (token id and name), what (action, method, path, target, status), when and
 * from where (remote address). Append only: nothing in the API updates or deletes a row.
 */
import { nowIso, type Db } from './core.js';
import { statementCache } from './statements.js';

export interface AuditEntryInput {
  /** Token id; null for the platform itself (e.g. the first admin token). */
  actorId: string | null;
  actorName: string;
  actorRole: string | null;
  /** Stable name of the change, e.g. `device.create`, `token.revoke`. */
  action: string;
  method?: string | null;
  path?: string | null;
  target?: string | null;
  status?: number | null;
  remoteAddress?: string | null;
  /** Small JSON-able facts about the change (never a secret). */
  detail?: Record<string, unknown> | null;
  at?: string;
}

export interface AuditEntry {
  id: number;
  at: string;
  actorId: string | null;
  actorName: string;
  actorRole: string | null;
  action: string;
  method: string | null;
  path: string | null;
  target: string | null;
  status: number | null;
  remoteAddress: string | null;
  detail: Record<string, unknown> | null;
}

export interface AuditQuery {
  /** Token id or token name. */
  actor?: string;
  /** Exact action, or a prefix ending in `.` (e.g. `device.`). */
  action?: string;
  target?: string;
  /** ISO times, inclusive. */
  since?: string;
  until?: string;
  /** Only entries with a status >= 400 (refused or failed attempts). */
  failed?: boolean;
  /** Entries with an id below this (the `nextBefore` of a previous page). */
  before?: number;
  limit: number;
}

interface AuditRow {
  id: number;
  at: string;
  actor_id: string | null;
  actor_name: string;
  actor_role: string | null;
  action: string;
  method: string | null;
  path: string | null;
  target: string | null;
  status: number | null;
  remote_address: string | null;
  detail: string | null;
}

const toEntry = (row: AuditRow): AuditEntry => ({
  id: row.id,
  at: row.at,
  actorId: row.actor_id,
  actorName: row.actor_name,
  actorRole: row.actor_role,
  action: row.action,
  method: row.method,
  path: row.path,
  target: row.target,
  status: row.status,
  remoteAddress: row.remote_address,
  detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>),
});

export function auditOps(db: Db) {
  const insert = db.prepare(
    `INSERT INTO audit_log (at, actor_id, actor_name, actor_role, action, method, path, target, status, remote_address, detail)
     VALUES (@at, @actorId, @actorName, @actorRole, @action, @method, @path, @target, @status, @remoteAddress, @detail)`,
  );
  const prepared = statementCache(db);

  return {
    appendAudit(entry: AuditEntryInput): number {
      if (typeof entry.action !== 'string' || entry.action.length === 0) throw new TypeError('appendAudit(entry.action): must be a non-empty string');
      const info = insert.run({
        at: entry.at ?? nowIso(),
        actorId: entry.actorId,
        actorName: entry.actorName,
        actorRole: entry.actorRole,
        action: entry.action,
        method: entry.method ?? null,
        path: entry.path ?? null,
        target: entry.target ?? null,
        status: entry.status ?? null,
        remoteAddress: entry.remoteAddress ?? null,
        detail: entry.detail ? JSON.stringify(entry.detail) : null,
      });
      return Number(info.lastInsertRowid);
    },
    /** Newest first. */
    queryAudit(query: AuditQuery): AuditEntry[] {
      const where: string[] = [];
      const params: unknown[] = [];
      if (query.actor !== undefined) {
        where.push('(actor_id = ? OR actor_name = ?)');
        params.push(query.actor, query.actor);
      }
      if (query.action !== undefined) {
        if (query.action.endsWith('.')) {
          where.push('substr(action, 1, ?) = ?');
          params.push(query.action.length, query.action);
        } else {
          where.push('action = ?');
          params.push(query.action);
        }
      }
      if (query.target !== undefined) {
        where.push('target = ?');
        params.push(query.target);
      }
      if (query.since !== undefined) {
        where.push('at >= ?');
        params.push(query.since);
      }
      if (query.until !== undefined) {
        where.push('at <= ?');
        params.push(query.until);
      }
      if (query.failed === true) where.push('status >= 400');
      if (query.failed === false) where.push('(status IS NULL OR status < 400)');
      if (query.before !== undefined) {
        where.push('id < ?');
        params.push(query.before);
      }
      // `? + 0`, not a bare `?`: SQLite would re-prepare the statement on every run (statements.ts).
      const sql = `SELECT * FROM audit_log${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ? + 0`;
      return (prepared(sql).all(...params, query.limit) as AuditRow[]).map(toEntry);
    },
  };
}

export type AuditOps = ReturnType<typeof auditOps>;
