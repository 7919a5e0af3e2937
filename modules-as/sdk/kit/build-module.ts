/**
 * Builds one module folder (manifest.json + asconfig.json + assembly/index.ts) with asc's
 * programmatic API and checks the binary against the ABI before anyone can ship it.
 * Owns: compiling and validating module folders. Must not: run modules (device-agent/sandbox).
 */
import asc from 'assemblyscript/asc';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ABI_VERSION, ManifestSchema, abiProblem, type Manifest } from '../../../protocol/index.js';
import { describeProblems, withDefaults } from '../../../common/validate.js';
import { reasonOf } from '../../../common/errors.js';
import { moduleKitErrors } from './errors.js';
import { kitSdkSearchPath } from './sdk-location.js';
import { DEBUG_BUILD_FLAGS, diagnosticCollector, embedSourceMap } from './debug-build.js';

export type BuildTarget = 'release' | 'debug';

export interface BuildOptions {
  target?: BuildTarget;
  /**
   * A debug build (debug-build.ts): asc's --debug --sourceMap, the map embedded in the binary so
   * faults name the source line. Builds the `debug` target (build/debug.wasm, beside the release
   * build) unless `target` says otherwise.
   */
  debug?: boolean;
}

export interface BuiltModule {
  wasmPath: string;
  manifest: Manifest;
  bytes: Uint8Array<ArrayBuffer>;
}

interface AsConfig {
  entries?: string[];
  targets?: Record<string, { outFile?: string }>;
}

export const MODULE_ENTRY = 'assembly/index.ts';

async function readJson(dir: string, file: string): Promise<unknown> {
  const path = join(dir, file);
  if (!existsSync(path)) throw moduleKitErrors.WF_MODULE_DIR_MISSING({ dir, file });
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw moduleKitErrors.WF_MODULE_CONFIG_UNREADABLE({ dir, file, reason: reasonOf(error) });
  }
}

/** Reads and validates manifest.json; the error names the first field at fault. */
export async function readManifest(dir: string): Promise<Manifest> {
  const checked = withDefaults(ManifestSchema, await readJson(dir, 'manifest.json'));
  if (!checked.ok) throw moduleKitErrors.WF_MODULE_MANIFEST_INVALID({ dir, reason: describeProblems(checked.problems) });
  return checked.value;
}

/** Where a target's binary lands: the asconfig outFile, by convention build/<target>.wasm. */
export async function targetOutFile(dir: string, target: BuildTarget): Promise<string> {
  const config = (await readJson(dir, 'asconfig.json')) as AsConfig;
  const spec = config.targets?.[target];
  if (!spec) throw moduleKitErrors.WF_MODULE_TARGET_UNKNOWN({ dir, target });
  return join(dir, spec.outFile ?? `build/${target}.wasm`);
}

/**
 * What the SDK's ABI 2 needs from every build, whatever the folder's asconfig.json says: the
 * host's memory is imported as shared (the agent's main thread writes batches straight into the
 * module's input slots), and a shared memory must declare a maximum. The largest one is declared
 * here; the host creates the memory with the module's real limit, which may only be smaller.
 */
export const ABI_BUILD_FLAGS = ['--sharedMemory', '--maximumMemory', '65536', '--enable', 'threads'] as const;

/**
 * asc looks for package imports (`@wasmfleet/sdk`) in the node_modules folders above its baseDir,
 * so the baseDir is the module folder (which also makes diagnostics name `assembly/index.ts`), and
 * the SDK this kit ships in is the last place it looks.
 */
function resolutionFlags(dir: string): string[] {
  const fallback = kitSdkSearchPath();
  return ['--baseDir', dir, ...(fallback ? ['--path', fallback] : [])];
}

// asc keeps compiler state in module-level globals; one build at a time in a process.
let queue: Promise<unknown> = Promise.resolve();

function serialised<T>(task: () => Promise<T>): Promise<T> {
  const run = queue.then(task, task);
  queue = run.catch(() => undefined);
  return run;
}

async function compile(dir: string, target: BuildTarget, outFile: string, debug = false): Promise<Uint8Array<ArrayBuffer>> {
  const entry = join(dir, MODULE_ENTRY);
  if (!existsSync(entry)) throw moduleKitErrors.WF_MODULE_DIR_MISSING({ dir, file: MODULE_ENTRY });
  let binary: Uint8Array | undefined;
  let sourceMap: string | undefined;
  const errors: string[] = [];
  const diagnostics = diagnosticCollector(dir);
  const result = await asc.main(
    [entry, '--config', join(dir, 'asconfig.json'), '--target', target, '--outFile', outFile, '--noColors', ...ABI_BUILD_FLAGS, ...resolutionFlags(dir), ...(debug ? DEBUG_BUILD_FLAGS : [])],
    {
      stdout: { write: () => undefined },
      stderr: { write: (chunk) => void errors.push(String(chunk)) },
      reportDiagnostic: diagnostics.report,
      // Captured instead of written so the file on disk is replaced atomically below: another
      // process (a parallel test file) may be reading it.
      writeFile: (name, contents) => {
        if (name.endsWith('.wasm') && typeof contents !== 'string') binary = contents;
        if (name.endsWith('.wasm.map') && typeof contents === 'string') sourceMap = contents;
      },
    },
  );
  if (result.error || !binary) {
    const reason = errors.join('').trim() || reasonOf(result.error ?? 'no binary emitted');
    throw moduleKitErrors.WF_MODULE_COMPILE_FAILED({ dir, reason, problems: diagnostics.problems });
  }
  return debug ? embedSourceMap(binary, sourceMap, dir) : new Uint8Array(binary);
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, bytes);
  await rename(temp, path);
}

/** Throws the ABI refusal for a built binary, naming the folder it came from. */
export function assertAbi(dir: string, bytes: Uint8Array<ArrayBuffer>): void {
  const problem = abiProblem(bytes);
  if (problem) throw moduleKitErrors.WF_MODULE_ABI_REFUSED({ dir, reason: problem });
}

export async function buildModule(dir: string, options: BuildOptions = {}): Promise<BuiltModule> {
  const target = options.target ?? (options.debug ? 'debug' : 'release');
  const manifest = await readManifest(dir);
  if (manifest.abi !== ABI_VERSION) {
    throw moduleKitErrors.WF_MODULE_MANIFEST_INVALID({ dir, reason: `abi is ${manifest.abi}, but the SDK builds ABI ${ABI_VERSION} modules: set "abi": ${ABI_VERSION} in manifest.json` });
  }
  const wasmPath = await targetOutFile(dir, target);
  const bytes = await serialised(() => compile(dir, target, wasmPath, options.debug === true));
  assertAbi(dir, bytes);
  await writeAtomically(wasmPath, bytes);
  return { wasmPath, manifest, bytes };
}
