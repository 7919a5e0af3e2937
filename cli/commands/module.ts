/** `wasmfleet module build|publish|list|show|delete`. */
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { buildModule } from '../../modules-as/sdk/kit/build-module.js';
import { ensureBuilt } from '../../modules-as/tools/build-examples.js';
import { completeManifest, sha256Hex, signModule, type Manifest, type SigningKey } from '../../protocol/index.js';
import { clientFor, type ApiClient } from '../api-client.js';
import { cliErrors } from '../errors.js';
import type { GlobalArgs } from '../global-options.js';
import { emit, progress, table } from '../output.js';
import { DEFAULT_PUBLISHER_KEY, loadSigningKey } from './keys.js';
import { newCommand, runCommand, testCommand } from './module-authoring.js';
import { devCommand } from './module-dev.js';

interface ModuleSummary {
  name: string;
  version: string;
  sha256: string;
  size: number;
  [key: string]: unknown;
}

/**
 * Builds a module folder if its build is missing or stale, signs it with the publisher key (its
 * manifest with defaults filled, length and sha256: docs/security.md), then uploads it.
 */
export async function publishModuleDir(api: ApiClient, dir: string, publisher: SigningKey, step: (label: string) => void = () => undefined): Promise<ModuleSummary> {
  step(`building ${dir}`);
  const built = await ensureBuilt(resolve(dir));
  const manifest: Manifest = completeManifest(built.manifest);
  step(`signing with key ${publisher.keyId.slice(0, 16)} and publishing ${manifest.name}@${manifest.version} (${built.bytes.byteLength} bytes)`);
  const signature = signModule({ manifest, sha256: sha256Hex(built.bytes), size: built.bytes.byteLength }, publisher);
  return api.post<ModuleSummary>('/api/v1/modules', { manifest, wasm: Buffer.from(built.bytes).toString('base64'), signatures: [signature] });
}

const build: CommandModule<GlobalArgs, GlobalArgs & { dir: string; debug: boolean }> = {
  command: 'build <dir>',
  describe: 'Compile a module folder (manifest.json + assembly/) to Wasm with asc and check it against the ABI',
  builder: (argv) =>
    argv
      .positional('dir', { type: 'string', demandOption: true, describe: 'module folder' })
      .option('debug', { type: 'boolean', default: false, describe: 'build the debug target (source map inside: faults name the file, line and function) instead of release' })
      .example('$0 module build modules-as/examples/ema', 'build the EMA example') as Argv<GlobalArgs & { dir: string; debug: boolean }>,
  handler: async (args) => {
    const built = await buildModule(resolve(args.dir), { debug: args.debug });
    const summary = { name: built.manifest.name, version: built.manifest.version, wasm: built.wasmPath, size: built.bytes.byteLength };
    emit(args.json, summary, () => `built ${summary.name}@${summary.version}: ${summary.wasm} (${summary.size} bytes)`);
  },
};

const publish: CommandModule<GlobalArgs, GlobalArgs & { dirs: string[]; key: string }> = {
  command: 'publish <dirs..>',
  describe: 'Build (if needed), sign with a publisher key and upload module folders to the fleet API',
  builder: (argv) =>
    argv
      .positional('dirs', { type: 'string', array: true, demandOption: true, describe: 'module folders' })
      .option('key', {
        type: 'string',
        default: process.env.WASMFLEET_PUBLISHER_KEY ?? DEFAULT_PUBLISHER_KEY,
        describe: 'publisher private key (env WASMFLEET_PUBLISHER_KEY); the server must trust it: `wasmfleet keys trust`',
      })
      .example('$0 module publish modules-as/examples/ema', 'publish ema@1.0.0 signed with the local development key')
      .example('$0 module publish modules-as/examples/ema --key ci-publisher.key', 'sign with another publisher key') as Argv<GlobalArgs & { dirs: string[]; key: string }>,
  handler: async (args) => {
    const api = clientFor(args);
    const publisher = loadSigningKey(args.key, '--key');
    const step = progress(args.dirs.length * 2);
    const published: ModuleSummary[] = [];
    for (const dir of args.dirs) published.push(await publishModuleDir(api, dir, publisher, step));
    emit(args.json, { modules: published }, () =>
      published.map((m) => `published ${m.name}@${m.version} sha256=${m.sha256} size=${m.size}`).join('\n'),
    );
  },
};

const list: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'list',
  describe: 'List published modules',
  builder: (argv) => argv.example('$0 module list --json', 'all module versions as JSON'),
  handler: async (args) => {
    const result = await clientFor(args).get<{ modules: ModuleSummary[] }>('/api/v1/modules');
    emit(args.json, result, () => table(result.modules, ['name', 'version', 'size', 'sha256']));
  },
};

const show: CommandModule<GlobalArgs, GlobalArgs & { ref: string }> = {
  command: 'show <ref>',
  describe: 'Show one module version with its manifest',
  builder: (argv) =>
    argv
      .positional('ref', { type: 'string', demandOption: true, describe: 'NAME@VERSION' })
      .example('$0 module show ema@1.0.0', "ema 1.0.0's manifest, hash and size") as Argv<GlobalArgs & { ref: string }>,
  handler: async (args) => {
    const [name, version] = args.ref.split('@');
    const result = await clientFor(args).get<ModuleSummary>(`/api/v1/modules/${encodeURIComponent(name ?? '')}/${encodeURIComponent(version ?? '')}`);
    emit(args.json, result, () => JSON.stringify(result, null, 2));
  },
};

const remove: CommandModule<GlobalArgs, GlobalArgs & { ref: string }> = {
  command: 'delete <ref>',
  describe: 'Delete a module version nothing wants any more (no active deployment, desired state or rollback target), with its finished deployments',
  builder: (argv) =>
    argv
      .positional('ref', { type: 'string', demandOption: true, describe: 'NAME@VERSION' })
      .example('$0 module delete ema@1.1.0-dev.3', 'remove a dev version left by a killed `module dev`') as Argv<GlobalArgs & { ref: string }>,
  handler: async (args) => {
    const at = args.ref.lastIndexOf('@');
    if (at <= 0 || at === args.ref.length - 1) throw cliErrors.WF_CLI_BAD_ARGUMENT({ option: 'ref', reason: `'${args.ref}' is not NAME@VERSION` });
    const [name, version] = [args.ref.slice(0, at), args.ref.slice(at + 1)];
    const result = await clientFor(args).request<ModuleSummary & { deploymentsRemoved: number }>('DELETE', `/api/v1/modules/${encodeURIComponent(name)}/${encodeURIComponent(version)}`);
    emit(args.json, result, () => `deleted ${result.name}@${result.version} sha256=${result.sha256} (${result.deploymentsRemoved} finished deployment(s) removed with it)`);
  },
};

export const moduleCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'module <command>',
  describe: 'Write, build, test, run, publish, list and delete Wasm analytics modules',
  builder: (argv) =>
    argv
      .command(newCommand)
      .command(build)
      .command(testCommand)
      .command(runCommand)
      .command(publish)
      .command(devCommand)
      .command(list)
      .command(show)
      .command(remove)
      .demandCommand(1)
      .example('$0 module publish modules-as/examples/zscore', 'build and publish the z-score detector') as Argv<GlobalArgs>,
  handler: () => undefined,
};
