/**
 * `wasmfleet module new NAME`: a module folder that builds and passes its golden test as generated.
 * The SDK import is written relative to this installation, so the folder can live anywhere.
 */
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fromRoot } from '../../common/paths.js';
import { MODULE_NAME_PATTERN, isModuleName } from '../../protocol/index.js';
import { moduleKitErrors } from '../sdk/kit/errors.js';

const TEXT_FILES = /\.(ts|json|md)$/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? files(full) : [full];
  });
}

/** Creates `parent/name` from the template and returns its path. */
export function scaffoldModule(name: string, parent = '.'): string {
  if (!isModuleName(name)) throw moduleKitErrors.WF_MODULE_NAME_INVALID({ name, pattern: MODULE_NAME_PATTERN });
  const dir = resolve(parent, name);
  if (existsSync(dir)) throw moduleKitErrors.WF_MODULE_EXISTS({ dir });
  cpSync(fromRoot('modules-as', 'template'), dir, { recursive: true });
  // asc resolves imports relative to the importing file: assembly/index.ts here.
  let sdk = relative(join(dir, 'assembly'), fromRoot('modules-as', 'sdk', 'assembly')).split('\\').join('/');
  if (!sdk.startsWith('.')) sdk = `./${sdk}`;
  for (const file of files(dir).filter((f) => TEXT_FILES.test(f))) {
    writeFileSync(file, readFileSync(file, 'utf8').replaceAll('__NAME__', name).replaceAll('__SDK__', sdk));
  }
  return dir;
}
