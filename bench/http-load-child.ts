/**
 * An HTTP load generator in a process of its own, so the server under test and the load do not
 * share one event loop or one CPU budget: `node http-load-child.js` reads one JSON line on stdin
 * `{ url, headers, concurrency, requests }`, sends `requests` keep-alive GETs with `concurrency` in
 * flight, and prints one JSON line `{ latencies }` (ms, sorted) on stdout, then exits. A non-2xx
 * answer or a failed connection ends it with a non-zero code; it stops by itself when its stdin
 * closes (the bench died), so it never outlives the run.
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export interface HttpLoad {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly concurrency: number;
  readonly requests: number;
}

function get(agent: Agent, url: URL, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (response) => {
      response.on('data', () => undefined);
      response.once('end', () => {
        if (response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300) resolve();
        else reject(new Error(`${url.pathname}: HTTP ${response.statusCode}`));
      });
      response.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
}

export async function runLoad(load: HttpLoad): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: load.concurrency });
  const url = new URL(load.url);
  const latencies: number[] = [];
  let issued = 0;
  let resets = 0;
  const worker = async () => {
    while (issued < load.requests) {
      issued += 1;
      const started = performance.now();
      try {
        await get(agent, url, load.headers);
        latencies.push(performance.now() - started);
      } catch (error) {
        // A kept-alive socket the server closed as it was reused: count it and send again.
        if ((error as { code?: string }).code !== 'ECONNRESET' || (resets += 1) > load.requests / 100) throw error;
        issued -= 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: load.concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return latencies.sort((a, b) => a - b);
}

/** Runs `load` in a child process of its own; resolves with its sorted latencies (ms). */
export function loadFromChild(load: HttpLoad): Promise<number[]> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stdin.write(`${JSON.stringify(load)}\n`);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`http-load-child exited with ${code}`));
      resolve((JSON.parse(output) as { latencies: number[] }).latencies);
    });
  });
}

function main(): void {
  let input = '';
  let started = false;
  process.stdin.setEncoding('utf8');
  // stdin closing means the bench is gone: stop, whether the load started or not.
  process.stdin.once('end', () => process.exit(1));
  process.stdin.on('data', (chunk: string) => {
    input += chunk;
    const newline = input.indexOf('\n');
    if (started || newline < 0) return;
    started = true;
    runLoad(JSON.parse(input.slice(0, newline)) as HttpLoad).then(
      (latencies) => {
        process.stdout.write(`${JSON.stringify({ latencies })}\n`, () => process.exit(0));
      },
      (error: unknown) => {
        process.stderr.write(`http-load-child: ${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
