/**
 * Child processes of the scale benches: starting them with enough open files, reading their JSON
 * lines, and stopping them within a bound (SIGTERM, SIGKILL past 10 s), even when a bench fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cpuSecondsOf } from '../broker/broker-child.js';
import type { FleetBrokerReady, FleetBrokerStats } from './fleet-broker.js';
import { stopChild } from '../stop-child.js';

/**
 * Argv that runs `node ...args` with `files` open files allowed. A socket is a file: a broker
 * holding 50,000 connections needs more than 50,000, past the usual hard limit (20,000 here), so
 * the child is started under `prlimit`, which sets both limits for it; past the hard limit only with
 * CAP_SYS_RESOURCE (see openFilesFor).
 */
export function withOpenFiles(files: number, nodeArgs: readonly string[]): [string, string[]] {
  return ['prlimit', [`--nofile=${files}:${files}`, '--', process.execPath, ...nodeArgs]];
}

/**
 * The hard open-files limit this process (and so its children) runs under. Raising it needs
 * CAP_SYS_RESOURCE, which a container often lacks even for root: then a child can have at most
 * this many, and a bench sizes itself to fit.
 */
export function openFilesHardLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const hard = line?.split(/\s{2,}/)[2];
  return hard === undefined || hard === 'unlimited' ? Number.POSITIVE_INFINITY : Number(hard);
}

/** Whether this process may raise a hard limit (CAP_SYS_RESOURCE, bit 24 of its effective capabilities). */
export function mayRaiseHardLimits(): boolean {
  const caps = /^CapEff:\s+([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return caps !== undefined && (BigInt(`0x${caps}`) & (1n << 24n)) !== 0n;
}

/** Open files a child may get: `wanted`, or the hard limit when it cannot be raised. */
export function openFilesFor(wanted: number): number {
  return mayRaiseHardLimits() ? wanted : Math.min(wanted, openFilesHardLimit());
}

export interface JsonChild {
  readonly process: ChildProcess;
  /** The next JSON line the child writes (60 s bound unless given). */
  next<T>(timeoutMs?: number): Promise<T>;
  /** SIGTERM, then SIGKILL past 10 s; resolves once it exited. */
  stop(): Promise<void>;
}

export function spawnJsonChild(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): JsonChild {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], env });
  const lines: Interface = createInterface({ input: child.stdout! });
  const queued: string[] = [];
  const waiting: Array<(line: string | undefined) => void> = [];
  lines.on('line', (line) => (waiting.length > 0 ? waiting.shift()!(line) : queued.push(line)));
  child.once('exit', () => waiting.splice(0).forEach((w) => w(undefined)));
  return {
    process: child,
    next<T>(timeoutMs = 60_000): Promise<T> {
      if (queued.length > 0) return Promise.resolve(JSON.parse(queued.shift()!) as T);
      if (child.exitCode !== null || child.signalCode !== null) return Promise.reject(new Error(`${args.join(' ')} exited with ${child.exitCode ?? child.signalCode}`));
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line from ${command} ${args.slice(-3).join(' ')} within ${timeoutMs} ms`)), timeoutMs);
        waiting.push((line) => {
          clearTimeout(timer);
          if (line === undefined) reject(new Error(`${command} ${args.slice(-3).join(' ')} exited with ${child.exitCode ?? child.signalCode}`));
          else resolve(JSON.parse(line) as T);
        });
      });
    },
    stop: () => stopChild(child, 10_000),
  };
}

export interface FleetBrokerChild extends FleetBrokerReady {
  readonly pid: number;
  /** Memory after a full GC, CPU and connected clients, read in the broker process. */
  stats(): Promise<FleetBrokerStats>;
  /** utime + stime from /proc (no round trip through the broker's event loop). */
  cpuSeconds(): number;
  /** Whether the broker process has ended (crashed, or was stopped). */
  exited(): boolean;
  /** Starts a CPU profile in the broker process; `stop` writes DIR/NAME.cpuprofile and gives its top functions by self time. */
  profile(): Promise<{ stop(dir: string, name: string): Promise<string[]> }>;
  stop(): Promise<void>;
}

const BROKER_SCRIPT = fileURLToPath(new URL('./fleet-broker.js', import.meta.url));

export async function startFleetBroker(kind: 'ours' | 'bare', options: { dbPath?: string; servicePassword?: string; openFiles?: number; nodeArgs?: string[] } = {}): Promise<FleetBrokerChild> {
  const nodeArgs = ['--expose-gc', ...(options.nodeArgs ?? []), BROKER_SCRIPT, kind, ...(options.dbPath ? [options.dbPath] : [])];
  const [command, args] = options.openFiles ? withOpenFiles(openFilesFor(options.openFiles), nodeArgs) : [process.execPath, nodeArgs];
  const child = spawnJsonChild(command, args, { ...process.env, WF_BENCH_SERVICE_PASSWORD: options.servicePassword ?? '' });
  try {
    const ready = await child.next<FleetBrokerReady>();
    const pid = child.process.pid!;
    return {
      ...ready,
      pid,
      stats: () => {
        child.process.stdin!.write('stats\n');
        return child.next<FleetBrokerStats>();
      },
      cpuSeconds: () => cpuSecondsOf(pid),
      exited: () => child.process.exitCode !== null || child.process.signalCode !== null,
      profile: async () => {
        child.process.stdin!.write('profile-start\n');
        await child.next<{ profiling: true }>();
        return {
          stop: async (dir, name) => {
            child.process.stdin!.write(`profile-stop ${dir} ${name}\n`);
            return (await child.next<{ top: string[] }>()).top;
          },
        };
      },
      stop: () => child.stop(),
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}
