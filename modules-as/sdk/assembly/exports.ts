// The ABI 2 entry points (protocol/abi.ts). A module's entry file re-exports this file
// (`export * from "@wasmfleet/sdk/exports"`) so authors never write them by hand.

import { Batch, batchHandler } from "./index";
import { E_BAD_SLOT, E_BATCH_TOO_LARGE, E_NO_HANDLER, E_NOT_INITIALISED } from "./errors";
import { inputCap, inputSlotCount, outputArea, outputsDropped, outputsWritten, reserve, resetOutputs } from "./io";

const ABI_VERSION: i32 = 2;

/** One Batch per input slot, each reading its own area in place. */
let batches: StaticArray<Batch> | null = null;

export function wf_abi(): i32 {
  return ABI_VERSION;
}

export function wf_init(inputCapacity: i32, outputCapacity: i32, slots: i32): usize {
  if (batchHandler() === null) throw new Error(E_NO_HANDLER);
  const input = reserve(inputCapacity, outputCapacity, slots);
  const slotBytes = <usize>inputCapacity << 4;
  const all = new StaticArray<Batch>(slots);
  for (let slot = 0; slot < slots; slot++) {
    const times = input + <usize>slot * slotBytes;
    all[slot] = new Batch(times, times + (<usize>inputCapacity << 3));
  }
  batches = all;
  return input;
}

export function wf_process(slot: i32, count: i32): i32 {
  const all = batches;
  if (all === null) throw new Error(E_NOT_INITIALISED);
  if (<u32>slot >= <u32>inputSlotCount()) throw new Error(E_BAD_SLOT);
  if (count < 0 || count > inputCap()) throw new Error(E_BATCH_TOO_LARGE);
  resetOutputs();
  const current = unchecked(all[slot]);
  current.length = count;
  const handler = batchHandler();
  if (handler !== null) handler(current);
  return outputsWritten();
}

export function wf_output(): usize {
  return outputArea();
}

export function wf_dropped(): i32 {
  return outputsDropped();
}
