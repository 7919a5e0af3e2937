/**
 * Turns whatever a module run threw into a SandboxFault kind and a reason an operator can read.
 * Shared by the worker (traps, aborts, memory) and the main thread (timeouts, crashes).
 */
import { formatLocation, type SourceLocator, type SourceLocation } from './source-locator.js';
import { SandboxFault, type SandboxFaultKind } from './types.js';

/** Thrown by the host's `env.abort` import; carries the module's own message and location. */
export class ModuleAbort extends Error {
  constructor(
    message: string,
    /** The module's own message, without the location asc passed. */
    readonly text = message,
  ) {
    super(message);
    this.name = 'ModuleAbort';
  }
}

/** Thrown by a host import refusing a call (undeclared output name, pointer out of bounds). */
export class HostRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostRefusal';
  }
}

export interface FaultRecord {
  readonly kind: SandboxFaultKind;
  readonly message: string;
  readonly at?: SourceLocation;
}

const PAGE = 65536;

/**
 * A failed `memory.grow` is not observable from the host, and AssemblyScript's allocator answers
 * it with `unreachable`. A trap while the memory sits at its maximum is therefore reported as a
 * memory fault; any other trap keeps its engine message and the memory use, to help diagnosis.
 */
export function classify(error: unknown, memory: WebAssembly.Memory | undefined, maxPages: number): FaultRecord {
  if (error instanceof SandboxFault) return { kind: error.kind, message: error.message };
  if (error instanceof ModuleAbort) return { kind: 'abort', message: error.message };
  const pages = memory ? memory.buffer.byteLength / PAGE : 0;
  if (error instanceof HostRefusal) return { kind: 'trap', message: `host refused: ${error.message}` };
  if (error instanceof WebAssembly.RuntimeError) {
    if (memory && pages >= maxPages) {
      return { kind: 'memory', message: `memory limit of ${maxPages} pages reached (trap: ${error.message})` };
    }
    return { kind: 'trap', message: `trap: ${error.message} (memory ${pages}/${maxPages} pages)` };
  }
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return { kind: 'trap', message: `trap: call stack exhausted (${error.message})` };
  }
  return { kind: 'crash', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
}

/**
 * Adds the source location of `error` to its fault when the module carries a source map: an
 * abort's message names it instead of the location asc passed (a path relative to wherever it
 * was built), any other fault's message gets it appended. Timeouts and crashes are not the
 * module's own instruction: they stay as they are.
 */
export function locateFault(fault: FaultRecord, error: unknown, locator: SourceLocator | undefined): FaultRecord {
  if (!locator || fault.kind === 'timeout' || fault.kind === 'crash') return fault;
  const at = locator.locate(error);
  if (!at) return fault;
  const message = error instanceof ModuleAbort ? `abort: ${error.text} at ${formatLocation(at)}` : `${fault.message} at ${formatLocation(at)}`;
  return { kind: fault.kind, message, at };
}

/** At start any module failure means it cannot run here, so the caller sees it as invalid; a start past its budget or a crashed host keep their kind. */
export function startFault(fault: FaultRecord): FaultRecord {
  return fault.kind === 'crash' || fault.kind === 'timeout' ? fault : { ...fault, kind: 'invalid' };
}
