/** Stopping a bench child process within a bound, the way every bench stops its children. */
import type { ChildProcess } from 'node:child_process';

/** SIGTERM, then SIGKILL if it is still running after `killAfterMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, killAfterMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(timer);
}
