/**
 * WAL checkpoints on a thread of their own. A checkpoint copies the WAL into the database file
 * and fsyncs both; left to SQLite it runs inside whichever commit pushes the WAL past 1,000 pages,
 * on the thread that commits: ingestion's turns dirty a few thousand pages each, so nearly every
 * turn paid a checkpoint, and the event loop (MQTT input, HTTP queries) waited for its I/O (in a
 * micro-benchmark of 20,000-row transactions, 7.9 µs of wall time per row with it, 4.1 without).
 * Here the writer's connection never checkpoints (`wal_autocheckpoint = 0`) and a worker thread
 * does it with its own connection (checkpoint-worker.ts), as SQLite's documentation suggests for
 * applications that cannot afford the latency.
 *
 * If the worker dies, the writer's connection checkpoints for itself again. `stop()` is
 * synchronous, so `Store.close()` stays synchronous: it asks the worker to close its connection
 * and waits (bounded) until it has, so the writer's close is the last one and removes the WAL.
 */
import { Worker } from 'node:worker_threads';
import type { Db } from './core.js';

export interface Checkpointer {
  /** Closes the worker's connection, waiting at most `waitMs` for a checkpoint in progress. */
  stop(waitMs?: number): void;
}

export interface CheckpointerOptions {
  /** Pause between two checkpoints. */
  intervalMs: number;
  /** A WAL longer than this after a checkpoint gets a RESTART checkpoint, which waits for the writer. */
  restartPages: number;
  /** Told of a failed checkpoint, or of the worker's end, which hands checkpoints back to SQLite. */
  onProblem?(reason: string): void;
}

export const DEFAULT_CHECKPOINTER: CheckpointerOptions = { intervalMs: 200, restartPages: 16_384 };
/** SQLite's own default, given back to the writer when the worker is gone. */
const SQLITE_AUTOCHECKPOINT = 1000;

export function startCheckpointer(db: Db, path: string, options: CheckpointerOptions = DEFAULT_CHECKPOINTER): Checkpointer {
  const control = new SharedArrayBuffer(8);
  const flags = new Int32Array(control);
  let stopping = false;
  db.pragma('wal_autocheckpoint = 0');
  const worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
    workerData: { path, control, intervalMs: options.intervalMs, restartPages: options.restartPages },
  });
  // A checkpointer never keeps the process alive on its own.
  worker.unref();
  const handBack = (reason: string) => {
    if (stopping) return;
    stopping = true;
    if (db.open) db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT}`);
    options.onProblem?.(reason);
  };
  // A failing disk fails every round (5 a second): told once a minute, not each time.
  let lastTold = Number.NEGATIVE_INFINITY;
  worker.on('message', (message: { error?: string }) => {
    if (!message.error || Date.now() - lastTold < 60_000) return;
    lastTold = Date.now();
    options.onProblem?.(`checkpoint failed: ${message.error}`);
  });
  worker.on('error', (error) => handBack(`checkpointer failed: ${error.message}`));
  worker.on('exit', (code) => handBack(`checkpointer exited (${code})`));
  return {
    stop(waitMs = 5000) {
      if (stopping) return;
      stopping = true;
      Atomics.store(flags, 0, 1);
      Atomics.notify(flags, 0);
      // Bounded: a checkpoint in progress finishes first; past the bound the thread is dropped.
      Atomics.wait(flags, 1, 0, waitMs);
      if (Atomics.load(flags, 1) === 0) void worker.terminate();
    },
  };
}
