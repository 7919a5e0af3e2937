// Error messages as shared constants: each string lives once in the binary's data segment
// however many call sites abort with it, and the host shows it verbatim in the fault reason.

export const E_UNKNOWN_PARAM = "wasmfleet: param is not declared in manifest.json";
export const E_NO_HANDLER = "wasmfleet: onBatch(handler) was never called at top level";
export const E_INIT_TWICE = "wasmfleet: wf_init called more than once";
export const E_BAD_CAPACITY = "wasmfleet: wf_init capacities must be positive (slots at most 16)";
export const E_NOT_INITIALISED = "wasmfleet: wf_process called before wf_init";
export const E_BATCH_TOO_LARGE = "wasmfleet: batch count outside 0..inputCapacity";
export const E_BATCH_INDEX = "wasmfleet: batch index out of range";
export const E_BAD_SLOT = "wasmfleet: wf_process slot outside 0..slots-1";
