/**
 * Builds a module folder only when its release binary is missing or older than any of its
 * sources: the module's own files, or the SDK it compiles against (the project's installed
 * `@wasmfleet/sdk`, else the kit's own). `npm run build` output is reused as it is.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertAbi, buildModule, readManifest, targetOutFile, type BuiltModule } from './build-module.js';
import { SDK_SOURCES, resolveSdkDir } from './sdk-location.js';

/** Generated or installed, never a source: skipped when looking for the newest change. */
const NOT_SOURCES = new Set(['build', 'node_modules', '.git']);

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of readdirSync(path)) {
    if (NOT_SOURCES.has(name)) continue;
    newest = Math.max(newest, newestMtime(join(path, name)));
  }
  return newest;
}

function newestSdkMtime(dir: string): number {
  const sdk = resolveSdkDir(dir);
  if (!sdk) return 0;
  return Math.max(0, ...SDK_SOURCES.map((name) => join(sdk, name)).filter((path) => existsSync(path)).map(newestMtime));
}

export async function ensureBuilt(dir: string): Promise<BuiltModule> {
  const wasmPath = await targetOutFile(dir, 'release');
  if (existsSync(wasmPath)) {
    const sources = Math.max(newestMtime(dir), newestSdkMtime(dir));
    if (statSync(wasmPath).mtimeMs >= sources) {
      const bytes = new Uint8Array(await readFile(wasmPath));
      assertAbi(dir, bytes);
      return { wasmPath, manifest: await readManifest(dir), bytes };
    }
  }
  return buildModule(dir);
}
