/**
 * Builds every example module (`npm run build:modules`, also run by `npm install` via
 * `prepare`). Each imports the SDK by package name, `@wasmfleet/sdk`, through the workspace link.
 */
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fromRoot } from '../../common/paths.js';
import { reasonOf } from '../../common/errors.js';
import { buildModule } from '../sdk/kit/build-module.js';

/** Tests, the CLI and the demo build modules on demand with `ensureBuilt`. */
export { ensureBuilt } from '../sdk/kit/ensure-built.js';

export function exampleModuleDirs(): string[] {
  const root = fromRoot('modules-as', 'examples');
  return readdirSync(root)
    .map((name) => join(root, name))
    .filter((dir) => existsSync(join(dir, 'manifest.json')))
    .sort();
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
