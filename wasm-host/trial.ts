/**
 * A trial start of an untrusted module (the API's upload check) in a child process of its own,
 * so its worst case cannot reach the caller's heap or event loop: a V8 heap limit of its own
 * (`TRIAL_HEAP_MIB`) and a wall-clock kill (SIGKILL past `killAfterMs`).
 *
 * Why a process and not a worker with `resourceLimits`: V8 allocates a declared table in one
 * piece, and when that allocation fails even a worker's isolate aborts the whole process
 * (`FATAL ERROR: Reached heap limit`), resource limits or not (Node 20; see test/wasm-host/trial.test.ts).
 * The caps in footprint.ts refuse such a table before compiling; the process is what holds when
 * something else in V8 allocates beyond what we measured.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SandboxFaultKind, SandboxOptions } from './types.js';

export type TrialOutcome = { readonly ok: true } | { readonly ok: false; readonly kind: SandboxFaultKind; readonly reason: string };

/** Heap of the trial process: a started module needs a few MiB; its linear memory lives outside it. */
export const TRIAL_HEAP_MIB = 96;
/** Process boot and imports on a busy 2-core server, on top of the start budget. */
export const TRIAL_BOOT_ALLOWANCE_MS = 3000;
/** Trials at once; later uploads wait for a slot (each trial costs a Node process for ~100 ms). */
export const MAX_CONCURRENT_TRIALS = 2;
const STDERR_TAIL_BYTES = 2048;

export interface TrialOptions extends Omit<SandboxOptions, 'onTrace'> {
  /** Wall-clock bound of the whole trial, boot included; startTimeoutMs + TRIAL_BOOT_ALLOWANCE_MS by default. */
  readonly killAfterMs?: number;
  readonly heapMiB?: number;
}

const CHILD = fileURLToPath(new URL('./trial-child.js', import.meta.url));

let running = 0;
const waiting: (() => void)[] = [];

async function slot(): Promise<() => void> {
  if (running >= MAX_CONCURRENT_TRIALS) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  return () => {
    running -= 1;
    waiting.shift()?.();
  };
}

/** Starts the module once in a child process; resolves with the outcome, never rejects for what the module does. */
export async function trialStart(options: TrialOptions): Promise<TrialOutcome> {
  const release = await slot();
  try {
    return await runChild(options);
  } finally {
    release();
  }
}

function runChild(options: TrialOptions): Promise<TrialOutcome> {
  const { killAfterMs, heapMiB, ...sandbox } = options;
  const budget = killAfterMs ?? (sandbox.startTimeoutMs ?? 5000) + TRIAL_BOOT_ALLOWANCE_MS;
  const heap = heapMiB ?? TRIAL_HEAP_MIB;
  return new Promise((resolve) => {
    const child = fork(CHILD, [], {
      execArgv: [`--max-old-space-size=${heap}`, '--max-semi-space-size=8'],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let settled: TrialOutcome | undefined;
    let stderr = '';
    const settle = (outcome: TrialOutcome): void => {
      settled ??= outcome;
    };
    const timer = setTimeout(() => {
      settle({ ok: false, kind: 'timeout', reason: `trial start did not finish within ${budget} ms; its process was killed` });
      child.kill('SIGKILL');
    }, budget);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    child.on('message', (outcome: TrialOutcome) => settle(outcome));
    child.on('error', (error) => {
      clearTimeout(timer);
      settle({ ok: false, kind: 'crash', reason: `trial process failed: ${error.message}` });
      resolve(settled!);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const lastLine = stderr.trim().split('\n').find((line) => line.includes('FATAL ERROR')) ?? stderr.trim().split('\n').at(-1) ?? '';
      settle({
        ok: false,
        kind: 'crash',
        reason: `trial process ended without an answer (${signal ?? `exit code ${code}`}, heap limit ${heap} MiB)${lastLine ? `: ${lastLine.trim()}` : ''}`,
      });
      resolve(settled!);
    });
    child.send({ ...sandbox, wasm: new Uint8Array(sandbox.wasm) });
  });
}
