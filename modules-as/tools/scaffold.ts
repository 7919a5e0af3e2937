/**
 * `wasmfleet module new NAME`: a standalone module project that builds and passes its golden test
 * with `npm install && npm test` wherever it is copied. It depends on assemblyscript and on
 * `@wasmfleet/sdk`, which until the SDK is published comes as a tarball packed from this
 * installation into the project's `vendor/` (referenced as `file:vendor/…`, so the folder carries
 * everything it needs).
 */
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fromRoot } from '../../common/paths.js';
import { ABI_VERSION, MODULE_NAME_PATTERN, isModuleName } from '../../protocol/index.js';
import { moduleKitErrors } from '../sdk/kit/errors.js';
import { packSdk } from './bundle-sdk.js';

const TEXT_FILES = /\.(ts|json|md)$/;
export const VENDOR_DIR = 'vendor';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? files(full) : [full];
  });
}

/** The assemblyscript version this installation builds with: the project pins the same. */
function assemblyscriptVersion(): string {
  const pkg = JSON.parse(readFileSync(fromRoot('node_modules', 'assemblyscript', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export interface ScaffoldedModule {
  readonly dir: string;
  /** The packed SDK inside the project, e.g. vendor/wasmfleet-sdk-2.0.0.tgz. */
  readonly sdkTarball: string;
}

/** Creates the project `parent/name` from modules-as/template. */
export async function scaffoldModule(name: string, parent = '.'): Promise<ScaffoldedModule> {
  if (!isModuleName(name)) throw moduleKitErrors.WF_MODULE_NAME_INVALID({ name, pattern: MODULE_NAME_PATTERN });
  const dir = resolve(parent, name);
  if (existsSync(dir)) throw moduleKitErrors.WF_MODULE_EXISTS({ dir });
  cpSync(fromRoot('modules-as', 'template'), dir, { recursive: true });
  try {
    // Stored without the dot so the template's own folder is not affected by it.
    renameSync(join(dir, 'gitignore'), join(dir, '.gitignore'));
    const sdkTarball = await packSdk(join(dir, VENDOR_DIR));
    const values: Record<string, string> = {
      __NAME__: name,
      __ABI__: String(ABI_VERSION),
      __SDK_SPEC__: `file:${VENDOR_DIR}/${basename(sdkTarball)}`,
      __ASSEMBLYSCRIPT__: assemblyscriptVersion(),
    };
    for (const file of files(dir).filter((f) => TEXT_FILES.test(f))) {
      writeFileSync(file, readFileSync(file, 'utf8').replace(/__[A-Z_]+__/g, (key) => values[key] ?? key));
    }
    return { dir, sdkTarball };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
