/**
 * Starting and measuring a broker-process.js child: its ready line, its CPU time and resident
 * memory from /proc (Linux), and a bounded stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BrokerProcessReady } from './broker-process.js';
import { stopChild } from '../stop-child.js';

/** `cluster`: `ours` as one node on Redis (startBrokerChild's `redis` option). */
export type BrokerKind = 'ours' | 'bare' | 'cluster';

export interface BrokerChild extends BrokerProcessReady {
  readonly kind: BrokerKind;
  readonly process: ChildProcess;
  /** utime + stime of the broker process so far, in seconds. */
  cpuSeconds(): number;
  rssBytes(): number;
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./broker-process.js', import.meta.url));
/** /proc/<pid>/stat counts CPU in clock ticks; 100 per second on every Linux we run on. */
const CLOCK_TICKS = 100;

export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

export function rssBytesOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

export async function startBrokerChild(
  kind: BrokerKind,
  { devices = 10, host = '127.0.0.1', nodeArgs = [] as string[], redis = undefined as string | undefined } = {},
): Promise<BrokerChild> {
  const child = spawn(process.execPath, [...nodeArgs, SCRIPT, kind, String(devices), host, ...(redis ? [redis] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<BrokerProcessReady>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} broker did not start in 60 s`)), 60_000);
    child.once('exit', (code) => reject(new Error(`${kind} broker exited with ${code} before listening`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as BrokerProcessReady);
    });
  });
  const pid = child.pid!;
  return {
    ...ready,
    kind,
    process: child,
    cpuSeconds: () => cpuSecondsOf(pid),
    rssBytes: () => rssBytesOf(pid),
    stop: () => stopChild(child, 10_000),
  };
}
