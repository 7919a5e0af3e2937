// The author-facing SDK for ABI 2. A module reads its params and declares its outputs at top
// level (that runs once, at instantiation), registers one batch handler with `onBatch`, and
// re-exports the ABI entry points with `export * from "@wasmfleet/sdk/exports"`.
// See docs/modules.md.

import { E_BATCH_INDEX, E_UNKNOWN_PARAM } from "./errors";
import { hostDeclareEvent, hostDeclareMetric, hostParam, nameBytes, namePtr } from "./host";
import { writeRecord } from "./io";

export { E_BATCH_INDEX, E_UNKNOWN_PARAM } from "./errors";

/**
 * The effective value of a manifest param (deployment config over manifest default).
 * Booleans read as 0 or 1. Aborts at instantiation if the manifest does not declare `name`,
 * so a typo fails the deploy instead of running on NaN.
 */
export function param(name: string): f64 {
  const value = hostParam(namePtr(name), nameBytes(name));
  if (isNaN(value)) throw new Error(E_UNKNOWN_PARAM);
  return value;
}

/** An integer param; the manifest's `type: "integer"` guarantees the value is whole. */
export function intParam(name: string): i32 {
  return <i32>param(name);
}

/** A boolean param. */
export function flag(name: string): bool {
  return param(name) != 0;
}

/** A declared output: a metric point or an event is one (id, t, value) record. */
export class Output {
  constructor(readonly id: f64) {}

  /** Emits one record; past the batch's output capacity it is counted as dropped. */
  // @ts-ignore: decorator
  @inline
  emit(t: f64, value: f64): void {
    writeRecord(this.id, t, value);
  }
}

/** Declares a metric listed in manifest.json `metrics`; the host traps on any other name. */
export function metric(name: string): Output {
  return new Output(<f64>hostDeclareMetric(namePtr(name), nameBytes(name)));
}

/** Declares an event listed in manifest.json `events`; the host traps on any other name. */
export function event(name: string): Output {
  return new Output(<f64>hostDeclareEvent(namePtr(name), nameBytes(name)));
}

/**
 * One batch of samples, read in place from the host-written input area. Indices run over
 * 0..length-1; the debug target checks them, the release target (built with noAssert) does not,
 * since an out-of-range read can only reach the module's own memory.
 */
export class Batch {
  length: i32 = 0;

  constructor(
    private readonly times: usize,
    private readonly values: usize,
  ) {}

  // @ts-ignore: decorator
  @inline
  time(i: i32): f64 {
    assert(<u32>i < <u32>this.length, E_BATCH_INDEX);
    return load<f64>(this.times + (<usize>i << 3));
  }

  // @ts-ignore: decorator
  @inline
  value(i: i32): f64 {
    assert(<u32>i < <u32>this.length, E_BATCH_INDEX);
    return load<f64>(this.values + (<usize>i << 3));
  }

  /**
   * Copies values [from, from + count) to `dest` in one bulk move: how a windowed module fills
   * its window without a loop (and a CPU-budget checkpoint) per sample.
   */
  // @ts-ignore: decorator
  @inline
  copyValues(from: i32, count: i32, dest: usize): void {
    assert(from >= 0 && count >= 0 && <u32>(from + count) <= <u32>this.length, E_BATCH_INDEX);
    memory.copy(dest, this.values + (<usize>from << 3), <usize>count << 3);
  }

  /** Time of the last sample; only meaningful when length > 0. */
  // @ts-ignore: decorator
  @inline
  lastTime(): f64 {
    return this.time(this.length - 1);
  }
}

export type BatchHandler = (batch: Batch) => void;

let registered: BatchHandler | null = null;

/** Registers the function the host's wf_process runs for every batch. Call once, at top level. */
export function onBatch(handler: BatchHandler): void {
  registered = handler;
}

/** @internal used by exports.ts */
export function batchHandler(): BatchHandler | null {
  return registered;
}
