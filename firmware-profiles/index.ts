/**
 * Loads and validates firmware profiles: built-in ones from this folder by name, or any JSON
 * file by path. Validation fills schema defaults and refuses with the field named.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describeProblems, deepFreeze, withDefaults } from '../common/validate.js';
import { fromRoot } from '../common/paths.js';
import { profileErrors } from './errors.js';
import { ProfileSchema, type FirmwareProfile } from './schema.js';

export { ProfileSchema, type FirmwareProfile, type SourceConfig, type SimulatedSource } from './schema.js';
export { profileErrors } from './errors.js';

const profilesDir = (): string => fromRoot('firmware-profiles');

export function listProfileNames(): string[] {
  return readdirSync(profilesDir())
    .filter((file) => file.endsWith('.json'))
    .map((file) => basename(file, '.json'))
    .sort();
}

/** Validates a parsed profile document; `label` names it in errors. */
export function parseProfile(document: unknown, label: string): FirmwareProfile {
  const result = withDefaults(ProfileSchema, document);
  if (!result.ok) {
    const first = result.problems[0];
    throw profileErrors.WF_PROFILE_INVALID({ name: label, reason: describeProblems(result.problems), field: first?.field });
  }
  const ids = new Set<string>();
  for (const [index, source] of result.value.sources.entries()) {
    if (ids.has(source.id)) {
      throw profileErrors.WF_PROFILE_INVALID({ name: label, reason: `field 'sources/${index}/id': duplicate source id '${source.id}'`, field: `sources/${index}/id` });
    }
    ids.add(source.id);
  }
  return deepFreeze(result.value);
}

export function loadProfileFile(path: string): FirmwareProfile {
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw profileErrors.WF_PROFILE_UNREADABLE({ path, reason: (error as Error).message });
  }
  return parseProfile(document, path);
}

/** A built-in profile by name (e.g. `sim-x86-64`), or a path to a profile JSON file. */
export function loadProfile(nameOrPath: string): FirmwareProfile {
  if (nameOrPath.includes('/') || nameOrPath.endsWith('.json')) return loadProfileFile(nameOrPath);
  const known = listProfileNames();
  if (!known.includes(nameOrPath)) throw profileErrors.WF_PROFILE_UNKNOWN({ name: nameOrPath, known: known.join(', ') });
  return loadProfileFile(join(profilesDir(), `${nameOrPath}.json`));
}
