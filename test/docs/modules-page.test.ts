// docs/modules.md walks the author's path one command per step. Every ```sh author-path block
// on the page runs here as written, in order, in an empty temp dir, with `wasmfleet` on PATH and a
// real server: new project, npm install (one real install), npm test, fuzzing, a simulated
// gateway, the dev loop on it, publish, and a deploy whose results must then arrive. A block
// marked `sh author-path until-ctrl-c` (the dev loop) runs in the background until the first
// result of its dev version arrives, then gets Ctrl-C (SIGINT) and must leave the device as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../common/paths.js';
import { cliShimDir, runCliJson } from '../helpers/cli.js';
import { cleanNpmEnv, sh } from '../helpers/npm.js';
import { startTestPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

const MARKER = 'author-path';

export interface PageBlock {
  readonly text: string;
  /** Runs until Ctrl-C (the dev loop): started in the background, then interrupted. */
  readonly untilCtrlC: boolean;
}

/** The page's fenced blocks whose info string is `sh author-path` (or `sh author-path until-ctrl-c`), in order. */
export function pageBlocks(markdown: string): PageBlock[] {
  const blocks: PageBlock[] = [];
  const fence = /^```sh author-path( until-ctrl-c)?\n([\s\S]*?)^```$/gm;
  for (let match = fence.exec(markdown); match; match = fence.exec(markdown)) blocks.push({ text: match[2]!, untilCtrlC: match[1] !== undefined });
  return blocks;
}

/** The bodies of the author-path blocks, in order. */
export function markedBlocks(markdown: string): string[] {
  return pageBlocks(markdown).map((block) => block.text);
}

test('the author-path blocks of docs/modules.md cover every step', () => {
  const page = readFileSync(fromRoot('docs', 'modules.md'), 'utf8');
  const script = markedBlocks(page).join('');
  for (const step of ['wasmfleet module new', 'npm install', 'npm test', 'wasmfleet module test . --fuzz', 'wasmfleet module dev', 'wasmfleet module publish', 'wasmfleet deploy']) {
    assert.ok(script.includes(step), `${MARKER} blocks run '${step}'`);
  }
  assert.match(page, /^### 4\. Dev loop on a device$/m);
  const interactive = pageBlocks(page).filter((block) => block.untilCtrlC);
  assert.deepEqual(interactive.map((block) => block.text.trim()), ['wasmfleet module dev . --device gw-lab'], 'the dev loop is the one block run until Ctrl-C');
});

interface Interrupted {
  code: number | null;
  output: string;
}

/**
 * Starts `command` in `cwd`, waits until its output shows `ready`, sends SIGINT as Ctrl-C does and
 * waits for it to end. The shell execs the command, so the signal reaches the command itself.
 */
async function runUntilCtrlC(command: string, cwd: string, env: NodeJS.ProcessEnv, ready: RegExp, onStart: (pgid: number) => void): Promise<Interrupted> {
  const child = spawn('sh', ['-c', `exec ${command}`], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  onStart(child.pid!);
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    await waitFor(`'${command}' to show ${ready}`, () => (ready.test(output) ? true : undefined), 120_000, 200);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n--- output ---\n${output}`);
  }
  child.kill('SIGINT');
  const bound = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await exited;
  clearTimeout(bound);
  return { code, output };
}

test('the commands of docs/modules.md work as written', { timeout: 600_000 }, async (t) => {
  const { dir, env } = await startTestPlatform(t, 'docs-modules');
  const bin = cliShimDir(dir);
  const work = join(dir, 'work');
  mkdirSync(work);

  const groups: number[] = [];
  // The page starts a gateway in the background: every process group it made stops with the test.
  t.after(() => {
    for (const group of groups) {
      try {
        process.kill(-group, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });
  const shellEnv = cleanNpmEnv({ ...env, PATH: `${bin}:${process.env.PATH}`, WASMFLEET_LOG_LEVEL: 'warn' });

  // The blocks run as shell scripts split at the until-ctrl-c blocks; each part starts in the
  // folder the one before it ended in (the page's `cd` carries over, as in one terminal).
  const cwdFile = join(dir, 'page.cwd');
  writeFileSync(cwdFile, work);
  const cwd = () => readFileSync(cwdFile, 'utf8').trim();
  let stdout = '';
  let devLoop: Interrupted | undefined;
  let pending: string[] = [];
  const runPending = async (): Promise<void> => {
    if (pending.length === 0) return;
    const script = ['set -ex', ...pending, `pwd > "${cwdFile}"`].join('\n');
    pending = [];
    const result = await sh(script, cwd(), shellEnv, 480_000, (pgid) => groups.push(pgid));
    stdout += result.stdout;
    assert.equal(result.code, 0, `the page's commands failed:\n${result.stderr.slice(-4000)}\n${result.stdout.slice(-2000)}`);
  };
  for (const block of pageBlocks(readFileSync(fromRoot('docs', 'modules.md'), 'utf8'))) {
    if (!block.untilCtrlC) {
      pending.push(block.text);
      continue;
    }
    await runPending();
    // Until a result of the first dev version has come back from the device.
    devLoop = await runUntilCtrlC(block.text.trim(), cwd(), shellEnv, /^metric \S+: \d+ point\(s\)/m, (pgid) => groups.push(pgid));
  }
  await runPending();

  assert.match(stdout, /1 passed, 0 failed/);
  assert.match(stdout, /ok {6}200 random batches, nothing found/);
  assert.match(stdout, /published pump-health@0\.1\.0 /);

  assert.ok(devLoop, 'the dev loop ran');
  assert.equal(devLoop.code, 0, devLoop.output);
  assert.match(devLoop.output, /^deployed pump-health@0\.1\.0-dev\.1 /m);
  assert.match(devLoop.output, /^restored: pump-health removed from the device, as before$/m, 'gw-lab had no pump-health before the loop');
  assert.match(devLoop.output, /^removed 1 dev version\(s\): pump-health@0\.1\.0-dev\.1$/m);

  await waitFor('pump-health results from gw-lab', async () => {
    const results = await runCliJson<{ results: unknown[] }>(['results', 'gw-lab', '--module', 'pump-health'], env);
    return results.results.length > 0 ? true : undefined;
  }, 60_000, 500);
  const modules = await runCliJson<{ modules: { name: string; version: string }[] }>(['module', 'list'], env);
  assert.deepEqual(modules.modules.filter((m) => m.name === 'pump-health').map((m) => m.version), ['0.1.0'], 'the dev versions are gone, the release is published');
});
