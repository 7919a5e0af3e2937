// The module's view of the `wasmfleet` host imports (ABI 2, protocol/abi.ts). Names cross the
// boundary as (pointer, byte length) of an AssemblyScript UTF-16 string, so the host never
// depends on the runtime's object header layout.

// @ts-ignore: decorator
@external("wasmfleet", "param")
export declare function hostParam(namePtr: usize, nameByteLen: i32): f64;

// @ts-ignore: decorator
@external("wasmfleet", "declare_metric")
export declare function hostDeclareMetric(namePtr: usize, nameByteLen: i32): i32;

// @ts-ignore: decorator
@external("wasmfleet", "declare_event")
export declare function hostDeclareEvent(namePtr: usize, nameByteLen: i32): i32;

// @ts-ignore: decorator
@inline
export function namePtr(name: string): usize {
  return changetype<usize>(name);
}

// @ts-ignore: decorator
@inline
export function nameBytes(name: string): i32 {
  return name.length << 1;
}
