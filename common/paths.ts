/** Locates the package's own files whether running from source folders or from `dist/`. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'protocol'))) {
      cachedRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('wasmfleet package root not found above ' + import.meta.url);
    dir = parent;
  }
}

export function fromRoot(...segments: string[]): string {
  return resolve(packageRoot(), ...segments);
}
