/**
 * A real redis-server for a test: Debian's package (`.ci/run` installs it), on a free loopback
 * port, in its own temp dir, stopped and removed in t.after. `restart()` stops it and starts it
 * again on the same port and dir, which is how the tests take Redis away while traffic flows;
 * with `persistent: true` it keeps its data across that (append-only file), as production should.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export const hasRedisServer = (): boolean => spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** Skips the test locally without redis-server; under CI=true a missing server is a failure. */
export function redisSkipReason(): string | false {
  if (hasRedisServer()) return false;
  if (process.env.CI === 'true') throw new Error('redis-server is not installed (Debian package redis-server)');
  return 'redis-server is not installed';
}

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Stops (SIGTERM, then SIGKILL) and starts again on the same port and dir. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its dir; what t.after does when a TestContext was given. */
  dispose(): Promise<void>;
  /** Runs redis-cli against it and returns stdout (e.g. `INFO memory`). */
  cli(...args: string[]): string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startRedis(t: Pick<TestContext, 'after'> | undefined, options: { persistent?: boolean } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'wf-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', options.persistent ? 'yes' : 'no', '--appendfsync', 'always',
    '--protected-mode', 'no', '--loglevel', 'warning', '--daemonize', 'no',
  ];

  const cli = (...command: string[]): string => {
    const result = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...command], { encoding: 'utf8', timeout: 10_000 });
    return result.stdout ?? '';
  };

  const start = async () => {
    const started = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = started;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (started.exitCode !== null) throw new Error(`redis-server exited with ${started.exitCode}`);
      if (cli('PING').trim() === 'PONG') {
        // With AOF on, PING answers before the file is loaded; LOADING ends when INFO says so.
        if (!cli('INFO', 'persistence').includes('loading:1')) return;
      }
      if (Date.now() > deadline) throw new Error('redis-server did not answer PING within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  const redis: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    start,
    stop,
    async restart(downMs = 0) {
      await stop();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    cli,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  // t.after hooks run in the order they were added: a test whose brokers must close before Redis
  // goes passes no context and calls dispose() from its own last hook.
  t?.after(() => redis.dispose());
  return redis;
}
