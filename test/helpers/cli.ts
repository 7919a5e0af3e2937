/** Runs the real `wasmfleet` CLI (the compiled dist/cli/main.js) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../common/paths.js';

export const CLI_PATH = fromRoot('dist', 'cli', 'main.js');

/** A `bin` folder under `dir` holding a `wasmfleet` command that runs this build: put it on PATH to run docs as written. */
export function cliShimDir(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'wasmfleet'), `#!/bin/sh\nexec "${process.execPath}" "${CLI_PATH}" "$@"\n`);
  chmodSync(join(bin, 'wasmfleet'), 0o755);
  return bin;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      env: { ...process.env, WASMFLEET_LOG_LEVEL: 'warn', ...env },
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a command that must succeed with --json, and returns its parsed output. */
export async function runCliJson<T>(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<T> {
  const result = await runCli([...args, '--json'], env, cwd);
  if (result.code !== 0) throw new Error(`wasmfleet ${args.join(' ')} exited ${result.code}: ${result.stderr || result.stdout}`);
  return JSON.parse(result.stdout) as T;
}

/** Starts a long-running CLI command (agent, server); the returned stop() sends SIGTERM and waits. */
export interface RunningCli {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code once the process has ended on its own (null if killed by a signal). */
  exited: Promise<number | null>;
  stop: () => Promise<number | null>;
}

export function startCli(args: string[], env: Record<string, string> = {}): RunningCli {
  return startScript(CLI_PATH, args, env);
}

/** Any node entry point (the CLI, the gateway bundle) run as `startCli` runs the CLI. */
export function startScript(script: string, args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, WASMFLEET_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
