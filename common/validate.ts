/**
 * Schema validation shared by configuration, profiles, manifests and wire payloads. Schemas are
 * TypeBox (plain JSON Schema underneath), compiled once per schema and cached, and every failure
 * names the field at fault as a JSON path such as `sources/0/kind`.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';

export interface SchemaProblem {
  /** Slash-separated path of the offending field, '' for the whole document. */
  readonly field: string;
  readonly message: string;
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerFor<T extends TSchema>(schema: T): TypeCheck<T> {
  let checker = compiled.get(schema);
  if (!checker) {
    checker = TypeCompiler.Compile(schema);
    compiled.set(schema, checker);
  }
  return checker as TypeCheck<T>;
}

export function schemaProblems(schema: TSchema, value: unknown, limit = 5): SchemaProblem[] {
  const checker = checkerFor(schema);
  if (checker.Check(value)) return [];
  const problems: SchemaProblem[] = [];
  for (const error of checker.Errors(value)) {
    problems.push({ field: error.path.replace(/^\//, ''), message: error.message });
    if (problems.length >= limit) break;
  }
  return problems;
}

/** One readable sentence for the first problem, e.g. "field 'profile': Expected string". */
export function describeProblems(problems: readonly SchemaProblem[]): string {
  const first = problems[0];
  if (!first) return 'valid';
  const where = first.field === '' ? 'document' : `field '${first.field}'`;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return `${where}: ${first.message}${more}`;
}

/**
 * Fills defaults declared in the schema, then checks. Returns the completed value, or the
 * problems; callers turn problems into their own registry's error so codes stay per part.
 */
export function withDefaults<T extends TSchema>(
  schema: T,
  value: unknown,
): { ok: true; value: Static<T> } | { ok: false; problems: SchemaProblem[] } {
  const completed = Value.Default(schema, Value.Clone(value ?? {}));
  const problems = schemaProblems(schema, completed);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: completed as Static<T> };
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value as Record<string, unknown>)) deepFreeze(inner);
  }
  return value;
}
