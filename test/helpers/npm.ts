/**
 * Runs npm in a module project as its author would, with none of the npm_* variables of an
 * enclosing `npm test` (they would point npm at this repository's workspace and config).
 */
import { spawn } from 'node:child_process';

export interface NpmResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cleanNpmEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key) && key !== 'INIT_CWD') env[key] = value;
  return { ...env, ...extra };
}

/** `sh -c command` in `cwd`, bounded: a stuck command is killed at `timeoutMs`. */
export function sh(
  command: string,
  cwd: string,
  env: NodeJS.ProcessEnv = cleanNpmEnv(),
  timeoutMs = 240_000,
  /** Called with the process group id, for a caller that must stop what the command left running. */
  onStart: (pgid: number) => void = () => undefined,
): Promise<NpmResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    onStart(child.pid!);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    // The whole process group: npm's own children (node, asc) go with it.
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr: code === null ? `${stderr}\n(killed after ${timeoutMs} ms)` : stderr });
    });
  });
}

/**
 * The one real install a project test does. `--prefer-offline` takes assemblyscript from the npm
 * cache when it is there; where it is not, npm asks the registry, and an unreachable registry
 * fails the test with npm's own words, never a silent skip.
 */
export async function npmInstall(cwd: string): Promise<void> {
  const result = await sh('npm install --prefer-offline --no-audit --no-fund', cwd);
  if (result.code !== 0) {
    throw new Error(
      `npm install in ${cwd} failed (exit ${result.code}). It needs assemblyscript from the npm cache or the registry; ` +
        `the SDK comes from the project's vendor/ tarball.\n${result.stderr.slice(-3000)}`,
    );
  }
}
