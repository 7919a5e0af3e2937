/**
 * Builds every example module (`npm run build:modules`, also run by `npm install` via
 * `prepare`), and lets tests, the CLI and the demo build them on demand with `ensureBuilt`.
 */
import { readdirSync, statSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fromRoot } from '../../common/paths.js';
import { reasonOf } from '../../common/errors.js';
import { assertAbi, buildModule, readManifest, targetOutFile, type BuiltModule } from '../sdk/kit/build-module.js';

export function exampleModuleDirs(): string[] {
  const root = fromRoot('modules-as', 'examples');
  return readdirSync(root)
    .map((name) => join(root, name))
    .filter((dir) => existsSync(join(dir, 'manifest.json')))
    .sort();
}

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of readdirSync(path)) {
    if (name === 'build') continue;
    newest = Math.max(newest, newestMtime(join(path, name)));
  }
  return newest;
}

/**
 * Builds `dir` only when its release binary is missing or older than any source: the module's
 * own files or the SDK every module compiles in.
 */
export async function ensureBuilt(dir: string): Promise<BuiltModule> {
  const wasmPath = await targetOutFile(dir, 'release');
  if (existsSync(wasmPath)) {
    const sources = Math.max(newestMtime(dir), newestMtime(fromRoot('modules-as', 'sdk')));
    if (statSync(wasmPath).mtimeMs >= sources) {
      const bytes = new Uint8Array(await readFile(wasmPath));
      assertAbi(dir, bytes);
      return { wasmPath, manifest: await readManifest(dir), bytes };
    }
  }
  return buildModule(dir);
}

async function main(): Promise<void> {
  let failed = 0;
  for (const dir of exampleModuleDirs()) {
    try {
      const built = await buildModule(dir);
      const { name, version } = built.manifest;
      console.log(`${name}@${version}: ${built.bytes.byteLength} bytes -> ${built.wasmPath}`);
    } catch (error) {
      failed++;
      console.error(`${dir}: ${reasonOf(error)}`);
    }
  }
  if (failed > 0) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
