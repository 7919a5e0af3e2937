// The areas the host reads and writes directly (no marshalling helpers), ABI 2: `slots` input
// areas back to back, each `inputCapacity` f64 timestamps followed by `inputCapacity` f64 values,
// and one output area of `outputCapacity` records of three f64 (id, t, value). The memory is
// shared with the agent's main thread, which writes batch N+1 into another slot while this
// module runs batch N. Reserved once in wf_init, never freed.

import { E_BAD_CAPACITY, E_INIT_TWICE } from "./errors";

const RECORD_BYTES: usize = 24;
/** More slots than any host pipelines would only waste the module's memory. */
const MAX_SLOTS: i32 = 16;

let inputPtr: usize = 0;
let inputCapacity: i32 = 0;
let inputSlots: i32 = 0;
let outputPtr: usize = 0;
let outputCapacity: i32 = 0;
let outputCount: i32 = 0;
let droppedCount: i32 = 0;

export function reserve(inputCap: i32, outputCap: i32, slots: i32): usize {
  if (inputPtr != 0) throw new Error(E_INIT_TWICE);
  if (inputCap <= 0 || outputCap <= 0 || slots <= 0 || slots > MAX_SLOTS) throw new Error(E_BAD_CAPACITY);
  inputPtr = heap.alloc((<usize>inputCap << 4) * <usize>slots);
  outputPtr = heap.alloc(<usize>outputCap * RECORD_BYTES);
  inputCapacity = inputCap;
  inputSlots = slots;
  outputCapacity = outputCap;
  return inputPtr;
}

// @ts-ignore: decorator
@inline
export function inputArea(): usize {
  return inputPtr;
}

// @ts-ignore: decorator
@inline
export function inputCap(): i32 {
  return inputCapacity;
}

// @ts-ignore: decorator
@inline
export function inputSlotCount(): i32 {
  return inputSlots;
}

// @ts-ignore: decorator
@inline
export function outputArea(): usize {
  return outputPtr;
}

export function resetOutputs(): void {
  outputCount = 0;
  droppedCount = 0;
}

// @ts-ignore: decorator
@inline
export function outputsWritten(): i32 {
  return outputCount;
}

// @ts-ignore: decorator
@inline
export function outputsDropped(): i32 {
  return droppedCount;
}

/** Appends one record, or counts it as dropped once the batch's output capacity is spent. */
export function writeRecord(id: f64, t: f64, value: f64): void {
  if (outputCount < outputCapacity) {
    const at = outputPtr + <usize>outputCount * RECORD_BYTES;
    store<f64>(at, id);
    store<f64>(at, t, 8);
    store<f64>(at, value, 16);
    outputCount++;
  } else {
    droppedCount++;
  }
}
