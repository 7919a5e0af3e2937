/**
 * `wasmfleet keys create|list|trust|revoke|rotate-fleet|sign-trusted` (docs/security.md §Keys).
 * Private keys are PKCS#8 PEM files of mode 0600 and never leave the machine that made them: the
 * API is only ever sent public keys and signed lists.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import {
  generateSigningKey,
  PROTOCOL_VERSION,
  signingKeyFromPem,
  signTrustedKeys,
  trustedKeyOf,
  type SigningKey,
  type TrustedKey,
  type TrustedKeys,
} from '../../protocol/index.js';
import { clientFor } from '../api-client.js';
import { cliErrors } from '../errors.js';
import type { GlobalArgs } from '../global-options.js';
import { emit, table } from '../output.js';

/** Where `npm start` puts the development publisher key; `module publish` uses it without --key. */
export const DEFAULT_PUBLISHER_KEY = './data/keys/publisher.key';

const ROLES = ['root', 'publisher', 'fleet'] as const;

/** Reads an ed25519 private key file, naming the file and the option on any problem. */
export function loadSigningKey(path: string, option: string): SigningKey {
  const file = resolve(path);
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw cliErrors.WF_CLI_FILE({ path: file, reason: `${(error as Error).message} (${option})` });
  }
  try {
    return signingKeyFromPem(pem);
  } catch (error) {
    throw cliErrors.WF_CLI_FILE({ path: file, reason: `not an ed25519 private key in PKCS#8 PEM (${option}): ${(error as Error).message}` });
  }
}

interface KeysView {
  root: { keyId: string; publicKey: string; online: boolean };
  fleetKeyId: string;
  trustedKeys: TrustedKeys;
}

interface ChangeResult {
  trustedKeys: TrustedKeys;
  republished: number;
}

const describeChange = (result: ChangeResult, what: string) =>
  `${what}: trusted-keys list is now version ${result.trustedKeys.version} (${result.trustedKeys.keys.length} keys), sent to ${result.republished} device(s)`;

const create: CommandModule<GlobalArgs, GlobalArgs & { role: (typeof ROLES)[number]; out: string }> = {
  command: 'create <role>',
  describe: 'Create an ed25519 key pair: the private key goes to --out (mode 0600), the public key is printed',
  builder: (argv) =>
    argv
      .positional('role', { choices: ROLES, demandOption: true, describe: 'what the key is for' })
      .option('out', { type: 'string', demandOption: true, describe: 'private key file to create (never overwritten)' })
      .example('$0 keys create publisher --out ~/.wasmfleet/ci-publisher.key', 'a publisher key for CI; then `wasmfleet keys trust <publicKey> --name ci`') as Argv<
      GlobalArgs & { role: (typeof ROLES)[number]; out: string }
    >,
  handler: (args) => {
    const file = resolve(args.out);
    if (existsSync(file)) throw cliErrors.WF_CLI_FILE({ path: file, reason: 'exists already; a key file is never overwritten (--out)' });
    const key = generateSigningKey();
    try {
      writeFileSync(file, key.pem, { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    } catch (error) {
      throw cliErrors.WF_CLI_FILE({ path: file, reason: (error as Error).message });
    }
    emit(args.json, { role: args.role, keyId: key.keyId, publicKey: key.publicKey, privateKeyFile: file }, () =>
      [`created ${args.role} key ${key.keyId}`, `  public key   ${key.publicKey}`, `  private key  ${file} (mode 0600; keep it secret)`].join('\n'),
    );
  },
};

const list: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'list',
  describe: 'Show the root key, the fleet key and every trusted publisher key',
  builder: (argv) => argv.example('$0 keys list --json', 'the trusted-keys list in force, as JSON'),
  handler: async (args) => {
    const view = await clientFor(args).get<KeysView>('/api/v1/keys');
    emit(args.json, view, () =>
      [
        `root ${view.root.keyId.slice(0, 16)} (${view.root.online ? 'on the server' : 'offline'}); trusted-keys list version ${view.trustedKeys.version}, expires ${view.trustedKeys.expiresAt}`,
        table(
          view.trustedKeys.keys.map((key) => ({ role: key.role, name: key.name, keyId: key.keyId.slice(0, 16), inUse: key.keyId === view.fleetKeyId ? 'signing' : '' })),
          ['role', 'name', 'keyId', 'inUse'],
        ),
      ].join('\n'),
    );
  },
};

/** The public key argument: base64 itself, or the private key file it belongs to. */
function publicKeyArg(value: string): string {
  if (/^[A-Za-z0-9+/]{43}=$/.test(value)) return value;
  if (existsSync(value)) return loadSigningKey(value, 'public-key').publicKey;
  throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'public-key', reason: 'give the base64 public key (`keys create` prints it) or the private key file' });
}

const trust: CommandModule<GlobalArgs, GlobalArgs & { 'public-key': string; name: string }> = {
  command: 'trust <public-key>',
  describe: 'Trust a publisher key: the server signs a new trusted-keys list with the root key and sends it to every agent',
  builder: (argv) =>
    argv
      .positional('public-key', { type: 'string', demandOption: true, describe: 'base64 public key, or the private key file' })
      .option('name', { type: 'string', demandOption: true, describe: 'who holds the key, e.g. ci or alice' })
      .example('$0 keys trust MCowBQYDK2VwAyEA... --name ci', 'let CI publish modules') as Argv<GlobalArgs & { 'public-key': string; name: string }>,
  handler: async (args) => {
    const result = await clientFor(args).post<ChangeResult>('/api/v1/keys', { publicKey: publicKeyArg(args['public-key']), name: args.name, role: 'publisher' });
    emit(args.json, result, () => describeChange(result, `trusted ${args.name}`));
  },
};

const revoke: CommandModule<GlobalArgs, GlobalArgs & { 'key-id': string }> = {
  command: 'revoke <key-id>',
  describe: 'Revoke a publisher key: the API refuses its uploads and agents its modules',
  builder: (argv) =>
    argv
      .positional('key-id', { type: 'string', demandOption: true, describe: 'key id, or its first 8+ hex digits' })
      .example('$0 keys revoke 3f2a9c0d', 'revoke the key whose id starts with 3f2a9c0d') as Argv<GlobalArgs & { 'key-id': string }>,
  handler: async (args) => {
    const result = await clientFor(args).request<ChangeResult>('DELETE', `/api/v1/keys/${encodeURIComponent(args['key-id'])}`);
    emit(args.json, result, () => describeChange(result, `revoked ${args['key-id']}`));
  },
};

const rotateFleet: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'rotate-fleet',
  describe: 'Replace the fleet key that signs desired states, and re-sign every desired state with the new one',
  builder: (argv) => argv.example('$0 keys rotate-fleet', 'after a suspected leak of data/keys/fleet.key'),
  handler: async (args) => {
    const result = await clientFor(args).request<ChangeResult>('POST', '/api/v1/keys/fleet/rotate', {});
    emit(args.json, result, () => describeChange(result, 'fleet key rotated'));
  },
};

type SignArgs = GlobalArgs & { 'root-key': string; trust?: string[]; name?: string[]; revoke?: string[]; 'ttl-days': number };

const signTrusted: CommandModule<GlobalArgs, SignArgs> = {
  command: 'sign-trusted',
  describe: 'With the root key kept off the server: sign the next trusted-keys list here and upload it',
  builder: (argv) =>
    argv
      .option('root-key', { type: 'string', demandOption: true, describe: 'the root private key file (e.g. on removable media)' })
      .option('trust', { type: 'string', array: true, describe: 'publisher public key to add (repeatable, paired with --name)' })
      .option('name', { type: 'string', array: true, describe: 'name for each --trust key' })
      .option('revoke', { type: 'string', array: true, describe: 'key id (or 8+ hex prefix) to remove (repeatable)' })
      .option('ttl-days', { type: 'number', default: 365, describe: 'days until the new list expires' })
      .example('$0 keys sign-trusted --root-key /media/usb/root.key --revoke 3f2a9c0d', 'revoke a publisher key with an offline root') as Argv<SignArgs>,
  handler: async (args) => {
    const root = loadSigningKey(args['root-key'], '--root-key');
    const api = clientFor(args);
    const view = await api.get<KeysView>('/api/v1/keys');
    if (view.root.keyId !== root.keyId) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'root-key', reason: `this is key ${root.keyId.slice(0, 16)}, the fleet's root is ${view.root.keyId.slice(0, 16)}` });
    const added = (args.trust ?? []).map((value, i): TrustedKey => {
      const name = args.name?.[i];
      if (!name) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'name', reason: `every --trust needs a --name (missing for #${i + 1})` });
      return trustedKeyOf({ publicKey: publicKeyArg(value) }, 'publisher', name);
    });
    const revoked = args.revoke ?? [];
    for (const prefix of revoked) {
      const key = view.trustedKeys.keys.find((candidate) => candidate.keyId.startsWith(prefix));
      if (!key) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'revoke', reason: `no trusted key starts with ${prefix}` });
      if (key.role === 'fleet') throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'revoke', reason: 'the fleet key is replaced with `keys rotate-fleet`' });
    }
    const keys = [...view.trustedKeys.keys.filter((key) => !revoked.some((prefix) => key.keyId.startsWith(prefix))), ...added];
    const now = Date.now();
    const list = signTrustedKeys(
      { v: PROTOCOL_VERSION, version: view.trustedKeys.version + 1, issuedAt: new Date(now).toISOString(), expiresAt: new Date(now + args['ttl-days'] * 86_400_000).toISOString(), keys },
      root,
    );
    const result = await api.request<ChangeResult>('PUT', '/api/v1/keys/trusted', list);
    emit(args.json, result, () => describeChange(result, 'signed offline and uploaded'));
  },
};

export const keysCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'keys <command>',
  describe: 'Signing keys: create, list, trust, revoke, rotate (docs/security.md)',
  builder: (argv) =>
    argv
      .command(create)
      .command(list)
      .command(trust)
      .command(revoke)
      .command(rotateFleet)
      .command(signTrusted)
      .demandCommand(1, 'name a keys command; see --help')
      .example('$0 keys list', 'who may sign modules and desired states'),
  handler: () => undefined,
};
