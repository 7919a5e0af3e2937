/**
 * WAL checkpoints mostly on a thread of their own. A checkpoint copies the WAL into the database
 * file and fsyncs both; left to SQLite it runs inside whichever commit pushes the WAL past 1,000
 * pages, on the thread that commits: ingestion's turns dirty a few thousand pages each, so nearly
 * every turn paid a checkpoint, and the event loop (MQTT input, HTTP queries) waited for its I/O
 * (in a micro-benchmark of 20,000-row transactions, 7.9 µs of wall time per row with it, 4.1
 * without). Here a worker thread with its own connection (checkpoint-worker.ts) runs a PASSIVE
 * checkpoint every `intervalMs`, as SQLite's documentation suggests for applications that cannot
 * afford the latency, and the writer's own automatic checkpoint waits for `writerCheckpointPages`.
 *
 * The writer keeps that last one because only it can let the WAL start over: SQLite rewinds the
 * WAL when a write begins after a checkpoint that copied every frame, and a checkpoint on another
 * thread is overtaken by the writer's next commits whenever they come back to back (a device
 * flushing a backlog), so the WAL would only grow. The writer's checkpoint runs right after its
 * commit, finds most frames already copied by the worker, and pays the fsyncs once per that many
 * pages instead of once per 1,000.
 *
 * If the worker dies, the writer checkpoints at SQLite's default again. `stop()` is synchronous,
 * so `Store.close()` stays synchronous: it asks the worker to close its connection and waits
 * (bounded) until it has, so the writer's close is the last one and removes the WAL.
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
  /** WAL pages after which the writer's own commit checkpoints (and lets the WAL start over). */
  writerCheckpointPages: number;
  /** Told of a failed checkpoint, or of the worker's end, which hands checkpoints back to SQLite. */
  onProblem?(reason: string): void;
}

export const DEFAULT_CHECKPOINTER: CheckpointerOptions = { intervalMs: 200, writerCheckpointPages: 10_000 };
/** SQLite's own default, given back to the writer when the worker is gone. */
const SQLITE_AUTOCHECKPOINT = 1000;

export function startCheckpointer(db: Db, path: string, options: CheckpointerOptions = DEFAULT_CHECKPOINTER): Checkpointer {
  const control = new SharedArrayBuffer(8);
  const flags = new Int32Array(control);
  let stopping = false;
  db.pragma(`wal_autocheckpoint = ${options.writerCheckpointPages}`);
  const worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
    workerData: { path, control, intervalMs: options.intervalMs },
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
