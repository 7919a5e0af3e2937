/**
 * Options every operator command shares. The API address and token come from flags, then the
 * WASMFLEET_API / WASMFLEET_TOKEN environment variables, then the local server's defaults, so a
 * command run next to `npm start` works with no setup.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { DEFAULT_API_URL } from '../common/network-defaults.js';
import { cliErrors } from './errors.js';

export interface GlobalArgs {
  api: string;
  token?: string;
  json: boolean;
}

export const DEFAULT_API = DEFAULT_API_URL;
export const DEFAULT_TOKEN_FILE = './data/admin.token';

export function withGlobalOptions<T>(argv: Argv<T>): Argv<T & GlobalArgs> {
  return argv
    .option('api', {
      type: 'string',
      describe: 'fleet API base URL (env WASMFLEET_API)',
      default: process.env.WASMFLEET_API ?? DEFAULT_API,
      global: true,
    })
    .option('token', {
      type: 'string',
      describe: `API bearer token (env WASMFLEET_TOKEN; else ${DEFAULT_TOKEN_FILE})`,
      global: true,
    })
    .option('json', { type: 'boolean', describe: 'print machine-readable JSON', default: false, global: true }) as Argv<
    T & GlobalArgs
  >;
}

export function resolveToken(args: Pick<GlobalArgs, 'token'>): string {
  const token = args.token ?? process.env.WASMFLEET_TOKEN;
  if (token) return token;
  const file = resolve(DEFAULT_TOKEN_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  throw cliErrors.WF_CLI_NO_TOKEN({ path: DEFAULT_TOKEN_FILE });
}

/** Parses repeatable `key=value` flags (tags, module config) into an object. */
export function parseKeyValues(option: string, values: unknown): Record<string, string> {
  const list = values === undefined ? [] : Array.isArray(values) ? values : [values];
  const result: Record<string, string> = {};
  for (const item of list) {
    const text = String(item);
    const eq = text.indexOf('=');
    if (eq <= 0) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: `--${option}`, reason: `expected key=value, got '${text}'` });
    result[text.slice(0, eq)] = text.slice(eq + 1);
  }
  return result;
}

/** Module config values are numbers or booleans on the wire; `p=0.2` and `flag=true` both work. */
export function parseConfigValues(values: unknown): Record<string, number | boolean> {
  const result: Record<string, number | boolean> = {};
  for (const [key, text] of Object.entries(parseKeyValues('config', values))) {
    if (text === 'true' || text === 'false') result[key] = text === 'true';
    else if (text.trim() !== '' && Number.isFinite(Number(text))) result[key] = Number(text);
    else throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: '--config', reason: `${key}: '${text}' is not a number or boolean` });
  }
  return result;
}

export function asList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}
