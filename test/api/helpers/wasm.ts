/**
 * Hand-assembles tiny WebAssembly binaries for tests, so module upload can be tested without a
 * compiler. `abiModule()` satisfies the ABI v1 structural check; options break it on purpose.
 */
const uleb = (value: number): number[] => {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
};
const name = (text: string): number[] => {
  const bytes = [...Buffer.from(text, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

const I32 = 0x7f;
const FUNC = 0x60;

export interface AbiModuleOptions {
  /** Bytes in a custom section, so different labels give different hashes. */
  label?: string;
  omitExport?: string;
  /** Adds an import outside the ABI allow-list. */
  extraImport?: { module: string; name: string };
  ownMemory?: boolean;
  /** Initial pages the imported `env.memory` declares (default 1). */
  memoryMinimum?: number;
}

export function abiModule(options: AbiModuleOptions = {}): Uint8Array<ArrayBuffer> {
  // Types: 0 () -> i32, 1 (i32, i32) -> i32, 2 (i32) -> i32.
  const types = vector([
    [FUNC, 0, 1, I32],
    [FUNC, 2, I32, I32, 1, I32],
    [FUNC, 1, I32, 1, I32],
  ]);
  const imports: number[][] = [];
  if (!options.ownMemory) imports.push([...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(options.memoryMinimum ?? 1)]);
  if (options.extraImport) imports.push([...name(options.extraImport.module), ...name(options.extraImport.name), 0x00, 0x00]);
  const importedFunctions = options.extraImport ? 1 : 0;
  const functions: Array<{ export: string; type: number }> = [
    { export: 'wf_abi', type: 0 },
    { export: 'wf_init', type: 1 },
    { export: 'wf_process', type: 2 },
    { export: 'wf_output', type: 0 },
    { export: 'wf_dropped', type: 0 },
  ];
  const exports = functions
    .map((fn, index) => ({ ...fn, index: index + importedFunctions }))
    .filter((fn) => fn.export !== options.omitExport)
    .map((fn) => [...name(fn.export), 0x00, ...uleb(fn.index)]);
  if (options.ownMemory) exports.push([...name('memory'), 0x02, 0x00]);
  // Every body: no locals, `i32.const 1; end`; wf_init returns 1024, an aligned input area.
  const body = [0x00, 0x41, 0x01, 0x0b];
  const initBody = [0x00, 0x41, 0x80, 0x08, 0x0b];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types),
    ...(imports.length ? section(2, vector(imports)) : []),
    ...section(3, vector(functions.map((fn) => [fn.type]))),
    ...(options.ownMemory ? section(5, vector([[0x00, 0x01]])) : []),
    ...section(7, vector(exports)),
    ...section(10, vector(functions.map((fn) => (fn.export === 'wf_init' ? [...uleb(initBody.length), ...initBody] : [...uleb(body.length), ...body])))),
    ...(options.label ? section(0, [...name('wf-test'), ...Buffer.from(options.label)]) : []),
  ];
  const out = new Uint8Array(new ArrayBuffer(bytes.length));
  out.set(bytes);
  return out;
}

export function manifestFor(moduleName: string, version: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: moduleName,
    version,
    abi: 1,
    description: 'test module',
    params: {
      alpha: { type: 'number', default: 0.1, minimum: 0, maximum: 1 },
      window: { type: 'integer', default: 10, minimum: 1 },
    },
    inputs: [{ name: 'signal' }],
    metrics: [{ name: 'ema' }],
    events: [{ name: 'spike' }],
    ...extra,
  };
}

export const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
