// `export * from "@wasmfleet/sdk/exports"`: the ABI entry points every module re-exports.
export * from "./assembly/exports";
