/**
 * The main thread's side of the batch ring (layout in worker-protocol.ts): hands batches to the
 * worker up to PIPELINE_DEPTH ahead, resolves their promises strictly in order, and times the
 * batch the worker is running. The worker serves batches in order (module state is
 * sequential), so the main thread groups one batch's answer while the worker runs the next:
 * throughput is the slower of the two sides rather than their sum.
 * Owns: slots, completions, the per-batch watchdog. Must not: touch the worker's life (the
 * sandbox ends it through `onFault`), or queue batches past what its callers hold.
 */
import { performance } from 'node:perf_hooks';
import { SandboxFault, type BatchOutput } from './types.js';
import {
  COUNT,
  DROPPED,
  MAIN_SPIN_MS,
  PIPELINE_DEPTH,
  RECORDS,
  REQUEST,
  RESPONSE,
  STARTED,
  TRACED,
  WAITING,
  epochMs,
  slotWord,
  type SlotInput,
} from './worker-protocol.js';

const SPIN_MISSES_BEFORE_BACKOFF = 4;
/** A power of two: batches are picked by their sequence number's low bits. */
const SPIN_PROBE_EVERY = 16;
const MASK = PIPELINE_DEPTH - 1;

export interface RingBuffers {
  readonly control: Int32Array;
  /** Where each slot's batch is written: the module's own input slots (ABI 2) or a shared copy area (ABI 1). */
  readonly inputs: readonly SlotInput[];
  readonly output: SharedArrayBuffer;
  readonly startedAt: SharedArrayBuffer;
  readonly batchCapacity: number;
  readonly maxOutputs: number;
  readonly cpuMsPerBatch: number;
  readonly group: (records: Float64Array, count: number, dropped: number) => BatchOutput;
  /** Ends the worker; the sandbox then calls fail(). */
  readonly onFault: (fault: SandboxFault) => void;
}

interface Ticket {
  resolve(output: BatchOutput): void;
  reject(fault: SandboxFault): void;
}

/** Its arrays are read when it takes a slot, as they were when batches ran one at a time. */
interface Waiting extends Ticket {
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
}

/** `a` is at or after `b` in Int32 wrap-around order. */
const atOrAfter = (a: number, b: number): boolean => ((a - b) | 0) >= 0;

export class BatchRing {
  private readonly control: Int32Array;
  private readonly inputs: readonly SlotInput[];
  private readonly records: Float64Array[] = [];
  private readonly startedAt: Float64Array;
  private readonly tickets: (Ticket | undefined)[] = new Array<Ticket | undefined>(PIPELINE_DEPTH).fill(undefined);
  /** Batches handed over, not yet resolved, are `oldest` up to `next - 1`. */
  private oldest = 1;
  private next = 1;
  /** Callers past a full ring; they take slots as the oldest batches resolve. */
  private readonly overflow: Waiting[] = [];
  /** The latest batch whose `done` message arrived: its traces, sent before it, have too. */
  private lastDone = 0;
  private pumpQueued = false;
  private misses = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private dead: SandboxFault | undefined;

  constructor(private readonly buffers: RingBuffers) {
    const { maxOutputs } = buffers;
    this.control = buffers.control;
    this.inputs = buffers.inputs;
    this.startedAt = new Float64Array(buffers.startedAt);
    for (let slot = 0; slot < PIPELINE_DEPTH; slot++) {
      this.records.push(new Float64Array(buffers.output, slot * maxOutputs * 24, maxOutputs * 3));
    }
  }

  private get inFlight(): number {
    return (this.next - this.oldest) | 0;
  }

  submit(timestamps: Float64Array, values: Float64Array): Promise<BatchOutput> {
    if (this.dead) return Promise.reject(this.dead);
    // A full ring gets the usual short spin on its oldest batch before the caller has to wait.
    if (this.inFlight === PIPELINE_DEPTH && this.overflow.length === 0 && !this.harvest(1) && this.spinFor(this.oldest)) this.harvest(1);
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<BatchOutput>((resolve, reject) => {
      if (this.inFlight < PIPELINE_DEPTH && this.overflow.length === 0) this.publish(timestamps, values, { resolve, reject });
      else this.overflow.push({ timestamps, values, resolve, reject });
      this.schedulePump();
    });
  }

  /** A `done` message: the batch's traces have all arrived, or the main thread asked for it. */
  done(seq: number): void {
    this.lastDone = seq;
    this.schedulePump();
  }

  /** Rejects every batch in flight or waiting: the first with the fault, the rest as cancelled. */
  fail(fault: SandboxFault): void {
    if (this.dead) return;
    this.dead = fault;
    clearTimeout(this.watchdog);
    this.watchdog = undefined;
    const cancelled = new SandboxFault(fault.kind, `cancelled: an earlier batch failed: ${fault.message}`);
    let reason = fault;
    for (let seq = this.oldest; seq !== this.next; seq = (seq + 1) | 0) {
      const ticket = this.tickets[seq & MASK];
      this.tickets[seq & MASK] = undefined;
      ticket?.reject(reason);
      reason = cancelled;
    }
    this.oldest = this.next;
    for (const waiting of this.overflow.splice(0)) {
      waiting.reject(reason);
      reason = cancelled;
    }
  }

  private publish(timestamps: Float64Array, values: Float64Array, ticket: Ticket): void {
    const seq = this.next;
    const slot = seq & MASK;
    this.next = (seq + 1) | 0;
    const input = this.inputs[slot]!;
    input.times.set(timestamps);
    input.values.set(values);
    this.control[slotWord(seq, COUNT)] = values.length;
    this.tickets[slot] = ticket;
    // The seq-cst store publishes the slot written above.
    Atomics.store(this.control, REQUEST, seq);
    Atomics.notify(this.control, REQUEST);
    if (!this.watchdog) this.armWatchdog(this.buffers.cpuMsPerBatch);
  }

  /**
   * Resolves up to `most` answered batches, in order, and gives freed slots to waiting callers.
   * Grouping a batch costs the main thread microseconds; the pump groups one at a time so that
   * the callers it resolves hand over their next batch before it groups another, which keeps
   * the worker fed instead of letting it drain while answers are grouped in a burst.
   */
  harvest(most = PIPELINE_DEPTH): boolean {
    const { control } = this;
    const answered = Atomics.load(control, RESPONSE);
    let progressed = false;
    for (let n = 0; n < most && this.oldest !== this.next && atOrAfter(answered, this.oldest) && !this.dead; n++) {
      const seq = this.oldest;
      // A batch with traces resolves after its `done`, which the worker sends after the traces.
      if (control[slotWord(seq, TRACED)] !== 0 && !atOrAfter(this.lastDone, seq)) break;
      let output: BatchOutput;
      try {
        output = this.buffers.group(this.records[seq & MASK]!, control[slotWord(seq, RECORDS)]!, control[slotWord(seq, DROPPED)]!);
      } catch (error) {
        this.buffers.onFault(new SandboxFault('trap', `host refused: ${(error as Error).message}`));
        return progressed;
      }
      const ticket = this.tickets[seq & MASK]!;
      this.tickets[seq & MASK] = undefined;
      this.oldest = (seq + 1) | 0;
      ticket.resolve(output);
      progressed = true;
    }
    while (this.overflow.length > 0 && this.inFlight < PIPELINE_DEPTH && !this.dead) {
      const waiting = this.overflow.shift()!;
      this.publish(waiting.timestamps, waiting.values, waiting);
    }
    return progressed;
  }

  private schedulePump(): void {
    if (this.pumpQueued || this.dead) return;
    this.pumpQueued = true;
    queueMicrotask(this.pump);
  }

  /**
   * Runs when callers yield (they await a batch): resolves what is answered, or polls for the
   * oldest batch, or asks the worker for a `done` message. After progress it runs again behind
   * the callers' continuations, which may hand over more batches first; each run blocks for at
   * most one spin, and a run only repeats after a batch completed.
   */
  private readonly pump = (): void => {
    this.pumpQueued = false;
    if (this.dead) return;
    let progressed = this.harvest(1);
    if (this.inFlight === 0 || this.dead) return;
    if (!progressed && this.spinFor(this.oldest)) progressed = this.harvest(1);
    if (this.inFlight === 0 || this.dead) return;
    if (progressed) return this.schedulePump();
    this.sleep();
  };

  /**
   * Asks for a `done` message for the oldest batch. The store-then-load here and the worker's
   * RESPONSE store-then-WAITING load are sequentially consistent, so at least one side sees the
   * other and the answer cannot be missed.
   */
  private sleep(): void {
    const seq = this.oldest;
    Atomics.store(this.control, WAITING, seq);
    if (atOrAfter(Atomics.load(this.control, RESPONSE), seq) && this.control[slotWord(seq, TRACED)] === 0) this.schedulePump();
  }

  /**
   * Polls RESPONSE for at most MAIN_SPIN_MS; true when the worker answered `expected`. The
   * clock is read every 32 polls only, as it costs more than a poll. A module whose batches
   * outlast the spin, or a machine too busy to run the worker, would have the main thread burn
   * the whole spin on every batch for nothing: after SPIN_MISSES_BEFORE_BACKOFF misses in a row
   * only one batch in SPIN_PROBE_EVERY spins, to notice when batches are quick again.
   */
  private spinFor(expected: number): boolean {
    const { control } = this;
    const backedOff = this.misses >= SPIN_MISSES_BEFORE_BACKOFF && (expected & (SPIN_PROBE_EVERY - 1)) !== 0;
    if (MAIN_SPIN_MS <= 0 || backedOff) return atOrAfter(Atomics.load(control, RESPONSE), expected);
    const until = performance.now() + MAIN_SPIN_MS;
    for (let i = 1; !atOrAfter(Atomics.load(control, RESPONSE), expected); i++) {
      if ((i & 31) === 0 && performance.now() > until) {
        this.misses++;
        return false;
      }
    }
    this.misses = 0;
    return true;
  }

  private armWatchdog(ms: number): void {
    this.watchdog = setTimeout(this.check, ms);
    // The worker keeps the process alive while a batch runs; this timer must not after that.
    this.watchdog.unref();
  }

  /**
   * One timer while anything is in flight, not one per batch: it times the batch the worker is
   * running from the moment the worker started it, so batches queued behind a slow one are not
   * charged for the wait. A runaway batch is stopped within the budget plus a timer tick.
   */
  private readonly check = (): void => {
    this.watchdog = undefined;
    if (this.dead) return;
    this.harvest();
    if (this.inFlight === 0 || this.dead) return;
    const budget = this.buffers.cpuMsPerBatch;
    const running = Atomics.load(this.control, STARTED);
    const answered = Atomics.load(this.control, RESPONSE);
    if (atOrAfter(running, this.oldest) && !atOrAfter(answered, running)) {
      const elapsed = epochMs() - this.startedAt[0]!;
      if (elapsed >= budget) {
        this.buffers.onFault(new SandboxFault('timeout', `batch exceeded its budget of ${budget} ms; worker terminated`));
        return;
      }
      return this.armWatchdog(Math.max(1, Math.ceil(budget - elapsed)));
    }
    // The worker has not picked up the oldest batch yet: its run has not started.
    this.armWatchdog(budget);
  };
}
