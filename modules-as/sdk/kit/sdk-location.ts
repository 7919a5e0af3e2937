/**
 * Where a module's `import ... from "@wasmfleet/sdk"` resolves. asc searches the node_modules
 * folders above the module (its baseDir) for `<package>/index.ts`, then the extra `--path`
 * folders: the module's own install wins, and a module with none yet (fresh from
 * `wasmfleet module new`) compiles against the SDK this kit belongs to.
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SDK_PACKAGE = '@wasmfleet/sdk';

/** The files of the SDK that asc compiles into every module. */
export const SDK_SOURCES = ['index.ts', 'exports.ts', 'assembly'] as const;

function ancestors(dir: string): string[] {
  const found: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    found.push(at);
    if (dirname(at) === at) return found;
  }
}

/** The node_modules folder holding an SDK, among those above `dir` (nearest first). */
function sdkNodeModulesAbove(dir: string): string | undefined {
  for (const at of ancestors(dir)) {
    if (basename(at) === 'node_modules') continue;
    const candidate = join(at, 'node_modules');
    if (existsSync(join(candidate, SDK_PACKAGE, 'index.ts'))) return candidate;
  }
  return undefined;
}

let kitPath: string | null | undefined;

/**
 * The node_modules folder that holds the SDK this kit ships in: in a module project, the
 * project's own; in the wasmfleet repository, the workspace link at its root.
 */
export function kitSdkSearchPath(): string | undefined {
  if (kitPath === undefined) kitPath = sdkNodeModulesAbove(dirname(fileURLToPath(import.meta.url))) ?? null;
  return kitPath ?? undefined;
}

/** The SDK folder (real path) a module in `dir` compiles against, or undefined when none is reachable. */
export function resolveSdkDir(dir: string): string | undefined {
  const nodeModules = sdkNodeModulesAbove(dir) ?? kitSdkSearchPath();
  return nodeModules ? realpathSync(join(nodeModules, SDK_PACKAGE)) : undefined;
}
