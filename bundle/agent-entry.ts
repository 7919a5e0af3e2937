/**
 * Entry point of the self-contained agent bundle: `node wasmfleet-agent.mjs --config agent.json`.
 * It takes the place of `wasmfleet agent` on a gateway, so it parses its few flags by hand
 * rather than carrying yargs (and its locale files) onto every device.
 */
import { listProfileNames, loadProfile } from '../firmware-profiles/index.js';
import { runAgentFromConfigFile } from '../device-agent/main.js';

/** Replaced at bundle time; the unbundled entry reports "dev". */
declare const WASMFLEET_BUNDLE_VERSION: string | undefined;
const version = typeof WASMFLEET_BUNDLE_VERSION === 'string' ? WASMFLEET_BUNDLE_VERSION : 'dev';

const USAGE = `usage: node wasmfleet-agent.mjs --config FILE

  --config FILE         agent config JSON (written by \`wasmfleet flash\` or \`wasmfleet device add\`)
  --profiles            list the firmware profiles built into this bundle
  --print-profile NAME  print one of them as JSON (with defaults), to start a custom profile from
  --version             print the agent version
  --help                print this help

Logs are JSON lines on stderr; SIGTERM or SIGINT stops the agent cleanly.`;

export type EntryArgs =
  | { kind: 'run'; config: string }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'profiles' }
  | { kind: 'print-profile'; name: string }
  | { kind: 'error'; message: string };

export function parseEntryArgs(argv: readonly string[]): EntryArgs {
  let config: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (arg === '--version') return { kind: 'version' };
    if (arg === '--profiles') return { kind: 'profiles' };
    if (arg === '--print-profile') {
      const name = argv[i + 1];
      return name === undefined || name.startsWith('--') ? { kind: 'error', message: '--print-profile needs a profile name' } : { kind: 'print-profile', name };
    }
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

async function main(): Promise<void> {
  const args = parseEntryArgs(process.argv.slice(2));
  if (args.kind === 'help') return void process.stdout.write(USAGE + '\n');
  if (args.kind === 'version') return void process.stdout.write(version + '\n');
  if (args.kind === 'profiles') return void process.stdout.write(listProfileNames().join('\n') + '\n');
  if (args.kind === 'error') {
    process.stderr.write(`wasmfleet-agent: ${args.message}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    if (args.kind === 'print-profile') return void process.stdout.write(JSON.stringify(loadProfile(args.name), null, 2) + '\n');
    await runAgentFromConfigFile(args.config);
  } catch (error) {
    const detail = error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error);
    process.stderr.write(`wasmfleet-agent: ${detail}\n`);
    process.exitCode = 1;
  }
}

// Only the bundle runs main; importing this file (tests) just gets the parser.
if (typeof WASMFLEET_BUNDLE_VERSION === 'string') await main();
