/**
 * The checkpointer's thread (checkpointer.ts): its own connection to the fleet database, copying
 * the WAL back into the database file with a PASSIVE checkpoint every `intervalMs` (every 10 ms
 * while commits keep overtaking it), which never
 * waits for and never blocks the writer on the main thread. (Never RESTART or TRUNCATE here: they
 * hold the write lock while waiting for readers, and a writer's transaction that has read first
 * waits for that lock holding its read: both sit out their busy timeouts.)
 *
 * workerData: { path, control (SharedArrayBuffer: [0] stop asked, [1] connection closed),
 * intervalMs }. Errors of one round are posted and the next round tries again.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

interface CheckpointerData {
  path: string;
  control: SharedArrayBuffer;
  intervalMs: number;
}

const { path, control, intervalMs } = workerData as CheckpointerData;
const flags = new Int32Array(control);
const STOP = 0;
/** Pause after a round that left frames behind (written while it ran). */
const BEHIND_MS = 10;
const CLOSED = 1;

let db: Database.Database | undefined;
try {
  if (Atomics.load(flags, STOP) === 0) {
    db = new Database(path, { fileMustExist: true });
    // The checkpoint's fsyncs follow this connection's setting: the same as the writer's (core.ts).
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 2000');
    db.pragma('wal_autocheckpoint = 0');
  }
  while (db && Atomics.load(flags, STOP) === 0) {
    let behind = false;
    try {
      const [round] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      // Frames committed while it ran: again soon, so the writer's own checkpoint finds little left to copy.
      behind = round !== undefined && round.checkpointed < round.log;
    } catch (error) {
      parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) });
    }
    Atomics.wait(flags, STOP, 0, behind ? Math.min(intervalMs, BEHIND_MS) : intervalMs);
  }
} finally {
  db?.close();
  Atomics.store(flags, CLOSED, 1);
  Atomics.notify(flags, CLOSED);
}
