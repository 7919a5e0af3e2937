/**
 * Makes the SDK package self-contained (`npm run build:sdk`, and the package's `prepack`): the
 * module kit and its sandbox worker bundled by esbuild from the compiled JS in dist/ into
 * modules-as/sdk/dist/{kit,worker}.js, with protocol/, wasm-host/, the firmware profiles and
 * TypeBox inlined. Only `assemblyscript` (a peer dependency of the package) stays outside, so a
 * module project needs nothing from this repository. `packSdk` then runs `npm pack` on it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { fromRoot } from '../../common/paths.js';
import { reasonOf } from '../../common/errors.js';
import { builtinProfileDocuments } from '../../firmware-profiles/index.js';
import { moduleKitErrors } from '../sdk/kit/errors.js';

export const SDK_DIR = (): string => fromRoot('modules-as', 'sdk');

/** What the bundle may leave to the module project's own node_modules. */
const PEER_IMPORTS = /^assemblyscript(\/|$)/;

export interface SdkBundle {
  readonly dir: string;
  readonly bytes: number;
}

export function sdkPackageJson(): { name: string; version: string; peerDependencies: Record<string, string> } {
  return JSON.parse(readFileSync(join(SDK_DIR(), 'package.json'), 'utf8'));
}

export async function bundleSdk(): Promise<SdkBundle> {
  const dir = join(SDK_DIR(), 'dist');
  rmSync(dir, { recursive: true, force: true });
  const result = await build({
    // worker-pool.js boots `./worker.js` beside itself: kit.js and worker.js share the folder.
    entryPoints: { kit: fromRoot('dist', 'modules-as', 'sdk', 'kit', 'main.js'), worker: fromRoot('dist', 'wasm-host', 'worker.js') },
    outdir: dir,
    bundle: true,
    splitting: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    legalComments: 'none',
    metafile: true,
    absWorkingDir: fromRoot(),
    define: { WASMFLEET_EMBEDDED_PROFILES: JSON.stringify(builtinProfileDocuments()) },
    banner: { js: "import{createRequire as __wfRequire}from'node:module';const require=__wfRequire(import.meta.url);" },
    external: ['assemblyscript', 'assemblyscript/*'],
    logLevel: 'silent',
  });
  const builtins = new Set(builtinModules);
  const strays = Object.values(result.metafile.outputs)
    .flatMap((output) => output.imports)
    .filter((imported) => imported.external && !builtins.has(imported.path.replace(/^node:/, '')) && !PEER_IMPORTS.test(imported.path))
    .map((imported) => imported.path);
  if (strays.length > 0) throw moduleKitErrors.WF_MODULE_SDK_PACK_FAILED({ reason: `the kit bundle imports ${strays.join(', ')}, which a module project does not have` });
  const bytes = ['kit.js', 'worker.js'].reduce((sum, file) => sum + statSync(join(dir, file)).size, 0);
  return { dir, bytes };
}

/** Bundles the kit and packs the SDK into `destination`; returns the tarball's path. */
export async function packSdk(destination: string): Promise<string> {
  await bundleSdk();
  mkdirSync(destination, { recursive: true });
  try {
    // --ignore-scripts: prepack would bundle a second time.
    const { stdout } = await promisify(execFile)('npm', ['pack', SDK_DIR(), '--pack-destination', destination, '--ignore-scripts', '--json'], { cwd: destination });
    const [packed] = JSON.parse(stdout) as { filename: string }[];
    if (!packed) throw new Error('npm pack reported no file');
    return join(destination, packed.filename);
  } catch (error) {
    throw moduleKitErrors.WF_MODULE_SDK_PACK_FAILED({ reason: reasonOf(error) });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const bundle = await bundleSdk();
  process.stderr.write(`SDK kit bundle: ${bundle.dir}/{kit,worker}.js ${(bundle.bytes / 1024).toFixed(1)} KiB\n`);
}
