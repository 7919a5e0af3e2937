/**
 * Loads and validates firmware profiles: built-in ones by name (from this folder, or embedded in
 * the agent bundle, which carries them all so a gateway can switch profile without the
 * repository), or any JSON file by path. Validation fills schema defaults and refuses with the
 * field named.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { describeProblems, deepFreeze, withDefaults, type SchemaProblem } from '../common/validate.js';
import { fromRoot } from '../common/paths.js';
import { profileErrors } from './errors.js';
import { ProfileSchema, SOURCE_KINDS, SOURCE_SCHEMAS, type FirmwareProfile } from './schema.js';

export * from './schema.js';
export { profileErrors } from './errors.js';

/** Set by the bundle build (esbuild `define`): every built-in profile document by name. */
declare const WASMFLEET_EMBEDDED_PROFILES: Record<string, unknown> | undefined;
const embedded = (): Record<string, unknown> | undefined =>
  typeof WASMFLEET_EMBEDDED_PROFILES === 'object' ? WASMFLEET_EMBEDDED_PROFILES : undefined;

const profilesDir = (): string => fromRoot('firmware-profiles');

export function listProfileNames(): string[] {
  const inBundle = embedded();
  if (inBundle) return Object.keys(inBundle).sort();
  return readdirSync(profilesDir())
    .filter((file) => file.endsWith('.json'))
    .map((file) => basename(file, '.json'))
    .sort();
}

/**
 * A union reports a bad source as a whole (`sources/0`); checked against its own kind's schema,
 * the refusal names the field inside it (`sources/0/rateHz`) or the unknown kind.
 */
function sourceProblem(document: unknown): SchemaProblem | undefined {
  const sources = (document as { sources?: unknown } | null)?.sources;
  if (!Array.isArray(sources)) return undefined;
  for (const [index, source] of sources.entries()) {
    const kind = (source as { kind?: unknown } | null)?.kind;
    const schema = typeof kind === 'string' ? (SOURCE_SCHEMAS as Record<string, TSchema>)[kind] : undefined;
    if (!schema) return { field: `sources/${index}/kind`, message: `unknown source kind ${JSON.stringify(kind)}; known: ${SOURCE_KINDS.join(', ')}` };
    const checked = withDefaults(schema, source);
    if (!checked.ok) return { ...checked.problems[0]!, field: `sources/${index}/${checked.problems[0]!.field}`.replace(/\/$/, '') };
  }
  return undefined;
}

/** Validates a parsed profile document; `label` names it in errors. */
export function parseProfile(document: unknown, label: string): FirmwareProfile {
  const result = withDefaults(ProfileSchema, document);
  if (!result.ok) {
    const first = result.problems[0];
    const inSource = first?.field.startsWith('sources/') ? sourceProblem(document) : undefined;
    const problems = inSource ? [inSource] : result.problems;
    throw profileErrors.WF_PROFILE_INVALID({ name: label, reason: describeProblems(problems), field: problems[0]?.field });
  }
  const ids = new Set<string>();
  for (const [index, source] of result.value.sources.entries()) {
    if (ids.has(source.id)) {
      throw profileErrors.WF_PROFILE_INVALID({ name: label, reason: `field 'sources/${index}/id': duplicate source id '${source.id}'`, field: `sources/${index}/id` });
    }
    ids.add(source.id);
  }
  const { memoryPages, memoryBudgetMiB } = result.value.moduleLimits;
  if (memoryPages * 65536 > memoryBudgetMiB * 1048576) {
    const reason = `field 'moduleLimits/memoryBudgetMiB': ${memoryBudgetMiB} MiB cannot hold even one module at its ceiling of ${memoryPages} pages`;
    throw profileErrors.WF_PROFILE_INVALID({ name: label, reason, field: 'moduleLimits/memoryBudgetMiB' });
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
  const inBundle = embedded();
  if (inBundle) return parseProfile(inBundle[nameOrPath], nameOrPath);
  return loadProfileFile(join(profilesDir(), `${nameOrPath}.json`));
}

/** Every built-in profile document as stored (before defaults), for embedding in the bundle. */
export function builtinProfileDocuments(): Record<string, unknown> {
  const documents: Record<string, unknown> = {};
  for (const name of listProfileNames()) {
    const path = join(profilesDir(), `${name}.json`);
    documents[name] = JSON.parse(readFileSync(path, 'utf8'));
    loadProfileFile(path); // refuse to embed one that does not validate
  }
  return documents;
}

export { grantedMemoryPages, hasSource, memoryBudgetProblem, moduleFit, moduleFitProblem, type FitRefusal, type ModuleDemand } from './fit.js';
