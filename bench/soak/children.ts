/**
 * The soak's child processes and their JSON-line channel: spawn, wait for a line, ask for a
 * sample, and stop them all within a bound (SIGTERM, then SIGKILL for any still alive), also when
 * the bench process itself exits early.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fromRoot } from '../../common/paths.js';

type Line = Record<string, unknown>;

export class SoakChild {
  private readonly lines: Line[] = [];
  private readonly waiters: Array<() => void> = [];
  private exitCode: number | null | undefined;
  readonly child: ChildProcess;

  constructor(
    readonly name: string,
    script: string,
    args: readonly string[],
    nodeArgs: readonly string[] = [],
    env: Readonly<Record<string, string>> = {},
  ) {
    this.child = spawn(process.execPath, [...nodeArgs, fromRoot('dist', 'bench', 'soak', script), ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...env, WASMFLEET_LOG_LEVEL: 'warn' },
    });
    LIVE.add(this.child);
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      try {
        this.lines.push(JSON.parse(text) as Line);
      } catch {
        return; // not ours: the children print only JSON lines, but a stray one must not stop the soak
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.child.once('exit', (code) => {
      this.exitCode = code;
      LIVE.delete(this.child);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** The next line with `key`, consumed; throws at the timeout or if the process exits first. */
  async next<T>(key: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.lines.findIndex((line) => key in line);
      if (at >= 0) return this.lines.splice(at, 1)[0]![key] as T;
      if (this.exitCode !== undefined) throw new Error(`soak ${this.name} exited with ${this.exitCode} before sending '${key}'`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`soak ${this.name}: no '${key}' within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async sample<T>(timeoutMs: number): Promise<T> {
    this.child.stdin!.write('{"cmd":"sample"}\n');
    return this.next<T>('sample', timeoutMs);
  }

  /** Asks an agents process for a V8 heap snapshot at `path`; resolves with the path written. */
  async snapshot(path: string, timeoutMs: number): Promise<string> {
    this.child.stdin!.write(JSON.stringify({ cmd: 'snapshot', path }) + '\n');
    return this.next<string>('snapshot', timeoutMs);
  }
}

const LIVE = new Set<ChildProcess>();
// A bench that throws or is interrupted still leaves no process behind (the children also stop when their stdin closes).
process.once('exit', () => {
  for (const child of LIVE) child.kill('SIGKILL');
});

/** SIGTERM to all; SIGKILL to any still running after `boundMs` (their own stops are bounded at 5 s). */
export async function stopAll(children: readonly SoakChild[], boundMs = 15_000): Promise<string[]> {
  const killed: string[] = [];
  await Promise.all(
    children.map(async ({ child, name }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        killed.push(name);
        child.kill('SIGKILL');
      }, boundMs);
      await exited;
      clearTimeout(timer);
    }),
  );
  return killed;
}
