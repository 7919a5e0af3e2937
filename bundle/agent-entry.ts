/**
 * Entry point of the self-contained agent bundle: `node wasmfleet-agent.mjs --config agent.json`.
 * It takes the place of `wasmfleet agent` on a gateway, so it parses its three flags by hand
 * rather than carrying yargs (and its locale files) onto every device.
 */
import { readFileSync } from 'node:fs';
import { runAgentFromConfigFile } from '../device-agent/main.js';

/** Replaced at bundle time; the unbundled entry reports "dev". */
declare const WASMFLEET_BUNDLE_VERSION: string | undefined;
const version = typeof WASMFLEET_BUNDLE_VERSION === 'string' ? WASMFLEET_BUNDLE_VERSION : 'dev';

const USAGE = `usage: node wasmfleet-agent.mjs --config FILE

  --config FILE   agent config JSON (written by \`wasmfleet flash\` or \`wasmfleet device add\`)
  --version       print the agent version
  --help          print this help

Logs are JSON lines on stderr; SIGTERM or SIGINT stops the agent cleanly.`;

export type EntryArgs = { kind: 'run'; config: string } | { kind: 'help' } | { kind: 'version' } | { kind: 'error'; message: string };

export function parseEntryArgs(argv: readonly string[]): EntryArgs {
  let config: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (arg === '--version') return { kind: 'version' };
    if (arg === '--config') {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) return { kind: 'error', message: '--config needs a file' };
      config = value;
      i += 1;
    } else if (arg.startsWith('--config=')) config = arg.slice('--config='.length);
    else return { kind: 'error', message: `unknown argument '${arg}'` };
  }
  return config ? { kind: 'run', config } : { kind: 'error', message: '--config FILE is required' };
}

/**
 * The built-in profiles live in the repository, which a gateway does not have; say so before the
 * agent fails deeper down with "package root not found".
 */
function profileProblem(configPath: string): string | undefined {
  try {
    const profile = (JSON.parse(readFileSync(configPath, 'utf8')) as { profile?: unknown }).profile;
    if (typeof profile === 'string' && !profile.includes('/') && !profile.endsWith('.json')) {
      return `config names the built-in profile '${profile}'; the bundled agent needs a profile file path (\`wasmfleet flash\` writes profile.json beside agent.json)`;
    }
  } catch {
    // An unreadable config is reported by the agent itself, with its own error code.
  }
  return undefined;
}

async function main(): Promise<void> {
  const args = parseEntryArgs(process.argv.slice(2));
  if (args.kind === 'help') return void process.stdout.write(USAGE + '\n');
  if (args.kind === 'version') return void process.stdout.write(version + '\n');
  if (args.kind === 'error') {
    process.stderr.write(`wasmfleet-agent: ${args.message}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const problem = profileProblem(args.config);
  if (problem) {
    process.stderr.write(`wasmfleet-agent: ${problem}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    await runAgentFromConfigFile(args.config);
  } catch (error) {
    const detail = error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error);
    process.stderr.write(`wasmfleet-agent: ${detail}\n`);
    process.exitCode = 1;
  }
}

// Only the bundle runs main; importing this file (tests) just gets the parser.
if (typeof WASMFLEET_BUNDLE_VERSION === 'string') await main();
