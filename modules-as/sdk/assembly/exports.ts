// The ABI v1 entry points (protocol/abi.ts). A module's entry file re-exports this file
// (`export * from ".../sdk/assembly/exports"`) so authors never write them by hand.

import { Batch, batchHandler } from "./index";
import { E_BATCH_TOO_LARGE, E_NO_HANDLER, E_NOT_INITIALISED } from "./errors";
import { inputCap, outputArea, outputsDropped, outputsWritten, reserve, resetOutputs } from "./io";

const ABI_VERSION: i32 = 1;

let batch: Batch | null = null;

export function wf_abi(): i32 {
  return ABI_VERSION;
}

export function wf_init(inputCapacity: i32, outputCapacity: i32): usize {
  if (batchHandler() === null) throw new Error(E_NO_HANDLER);
  const input = reserve(inputCapacity, outputCapacity);
  batch = new Batch(input, input + (<usize>inputCapacity << 3));
  return input;
}

export function wf_process(count: i32): i32 {
  const current = batch;
  if (current === null) throw new Error(E_NOT_INITIALISED);
  if (count < 0 || count > inputCap()) throw new Error(E_BATCH_TOO_LARGE);
  resetOutputs();
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
