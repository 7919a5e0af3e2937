/**
 * Builds the self-contained agent bundle (`npm run build:bundle`): the agent and its sandbox
 * worker as two minified ESM files with every npm dependency inlined, so a gateway needs only
 * Node. Runs on the compiled JS in dist/, which makes the metafile's inputs exactly what an
 * unbundled install would have to carry (the footprint baseline in bench/footprint.ts).
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';
import { fromRoot } from '../common/paths.js';
import { builtinProfileDocuments } from '../firmware-profiles/index.js';

import { BUNDLE_ENTRY, BUNDLE_WORKER, MAX_BUNDLE_BYTES, defaultBundleDir } from './layout.js';
import { lazyRequiresPlugin } from './lazy-requires.js';

export { BUNDLE_ENTRY, BUNDLE_WORKER, MAX_BUNDLE_BYTES, defaultBundleDir } from './layout.js';

/**
 * Server-side or native code that must never reach a device ("agent bundles are pure
 * JavaScript"): a match in the metafile's inputs fails the build.
 */
export const FORBIDDEN_INPUTS: readonly RegExp[] = [
  /(^|\/)node_modules\/better-sqlite3\//,
  /(^|\/)node_modules\/(fastify|@fastify\/[^/]+)\//,
  /(^|\/)node_modules\/(bindings|node-gyp-build|prebuild-install)\//,
  /(^|\/)fleet-api\//,
  /(^|\/)broker\//,
  /\.node$/,
];

/**
 * Optional peers that ws and debug (under mqtt) require inside try/catch and run without; on a
 * gateway they do not resolve, so the pure-JS fallback is what runs.
 */
export const OPTIONAL_EXTERNALS: readonly string[] = ['bufferutil', 'utf-8-validate', 'supports-color'];

export interface AgentBundle {
  readonly dir: string;
  readonly entry: string;
  readonly worker: string;
  /** Both output files together. */
  readonly bytes: number;
  /** Input files relative to the package root, and their total size on disk. */
  readonly inputs: readonly string[];
  readonly inputBytes: number;
  readonly metafile: Metafile;
}

/** Problems in a metafile: forbidden inputs, and imports left outside the bundle that Node does not provide. */
export function bundleProblems(metafile: Metafile): string[] {
  const problems: string[] = [];
  for (const input of Object.keys(metafile.inputs)) {
    if (FORBIDDEN_INPUTS.some((pattern) => pattern.test(input))) problems.push(`forbidden input ${input}`);
  }
  const builtins = new Set(builtinModules);
  for (const [output, meta] of Object.entries(metafile.outputs)) {
    for (const imported of meta.imports) {
      if (!imported.external) continue;
      const name = imported.path.replace(/^node:/, '');
      if (!builtins.has(name) && !OPTIONAL_EXTERNALS.includes(imported.path)) problems.push(`${output} imports '${imported.path}', which is not a Node built-in`);
    }
  }
  return problems;
}

/**
 * worker-pool.js finds its worker as `./worker.js` beside itself. In the bundle the worker is
 * `worker.mjs` (so it is ESM without a package.json next to it); the one URL is rewritten, and
 * the build fails if the source stops matching rather than shipping a pool that cannot boot.
 */
function workerUrlPlugin(): Plugin {
  return {
    name: 'wasmfleet-worker-url',
    setup(b) {
      // A moved or renamed worker-pool.js would match no onLoad and ship a pool that cannot boot.
      let rewritten = false;
      b.onEnd((result) => {
        if (!rewritten) result.errors.push({ id: '', pluginName: 'wasmfleet-worker-url', text: 'wasm-host/worker-pool.js was not bundled, so its worker URL was not rewritten', location: null, notes: [], detail: undefined });
      });
      b.onLoad({ filter: /wasm-host[\\/]worker-pool\.js$/ }, (args) => {
        rewritten = true;
        const source = readFileSync(args.path, 'utf8');
        const pattern = "new URL('./worker.js', import.meta.url)";
        const count = source.split(pattern).length - 1;
        if (count !== 1) return { errors: [{ text: `expected exactly one ${pattern} in ${args.path}, found ${count}` }] };
        return { contents: source.replace(pattern, `new URL('./${BUNDLE_WORKER}', import.meta.url)`), loader: 'js' };
      });
    },
  };
}

export async function buildAgentBundle(options: { outDir?: string } = {}): Promise<AgentBundle> {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = fromRoot();
  const dir = resolve(options.outDir ?? defaultBundleDir());
  const version = (JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')) as { version: string }).version;
  rmSync(dir, { recursive: true, force: true });

  const result = await build({
    entryPoints: {
      'wasmfleet-agent': join(here, 'agent-entry.js'),
      worker: join(here, '..', 'wasm-host', 'worker.js'),
    },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    legalComments: 'none',
    metafile: true,
    absWorkingDir: root,
    // Every built-in profile travels inside the bundle: a gateway switches profile by name.
    define: { WASMFLEET_BUNDLE_VERSION: JSON.stringify(version), WASMFLEET_EMBEDDED_PROFILES: JSON.stringify(builtinProfileDocuments()) },
    // Bundled CommonJS dependencies (mqtt's) call require() for Node built-ins; ESM has none.
    banner: { js: "import{createRequire as __wfRequire}from'node:module';const require=__wfRequire(import.meta.url);" },
    external: [...OPTIONAL_EXTERNALS],
    plugins: [workerUrlPlugin(), lazyRequiresPlugin()],
    logLevel: 'silent',
  });

  const problems = bundleProblems(result.metafile);
  if (problems.length > 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`agent bundle refused:\n  ${problems.join('\n  ')}`);
  }
  const entry = join(dir, BUNDLE_ENTRY);
  const worker = join(dir, BUNDLE_WORKER);
  const bytes = statSync(entry).size + statSync(worker).size;
  if (bytes >= MAX_BUNDLE_BYTES) throw new Error(`agent bundle is ${bytes} bytes, over the ${MAX_BUNDLE_BYTES}-byte ceiling`);
  // `<define:…>` entries are the inlined defines (the embedded profiles), not files.
  const inputs = Object.keys(result.metafile.inputs).filter((input) => !input.startsWith('<')).sort();
  const inputBytes = inputs.reduce((sum, input) => sum + statSync(resolve(root, input)).size, 0);
  return { dir, entry, worker, bytes, inputs: inputs.map((input) => relative(root, resolve(root, input))), inputBytes, metafile: result.metafile };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const bundle = await buildAgentBundle();
  process.stderr.write(
    `agent bundle: ${relative(process.cwd(), bundle.dir)}/{${BUNDLE_ENTRY},${BUNDLE_WORKER}} ` +
      `${(bundle.bytes / 1024).toFixed(1)} KiB from ${bundle.inputs.length} inputs (${(bundle.inputBytes / 1024).toFixed(1)} KiB)\n`,
  );
}
