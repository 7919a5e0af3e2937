// docs/modules.md walks the author's path one command per step. Every ```sh author-path block
// on the page runs here as written, in order, as one shell script in an empty temp dir, with
// `wasmfleet` on PATH and a real server: new project, npm install (one real install), npm test,
// publish, and a deploy to a simulated gateway whose results must then arrive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRoot } from '../../common/paths.js';
import { CLI_PATH, runCliJson } from '../helpers/cli.js';
import { cleanNpmEnv, sh } from '../helpers/npm.js';
import { startTestPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';

const MARKER = 'author-path';

/** The bodies of the page's fenced blocks whose info string is `sh author-path`, in order. */
export function markedBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  const fence = /^```sh author-path\n([\s\S]*?)^```$/gm;
  for (let match = fence.exec(markdown); match; match = fence.exec(markdown)) blocks.push(match[1]!);
  return blocks;
}

test('the author-path blocks of docs/modules.md cover every step', () => {
  const page = readFileSync(fromRoot('docs', 'modules.md'), 'utf8');
  const script = markedBlocks(page).join('');
  for (const step of ['wasmfleet module new', 'npm install', 'npm test', 'wasmfleet module publish', 'wasmfleet deploy']) assert.ok(script.includes(step), `${MARKER} blocks run '${step}'`);
  assert.match(page, /^### 4\. Dev loop on a device$/m);
});

test('the commands of docs/modules.md work as written', { timeout: 600_000 }, async (t) => {
  const { dir, env } = await startTestPlatform(t, 'docs-modules');
  const bin = join(dir, 'bin');
  const work = join(dir, 'work');
  mkdirSync(bin);
  mkdirSync(work);
  writeFileSync(join(bin, 'wasmfleet'), `#!/bin/sh\nexec "${process.execPath}" "${CLI_PATH}" "$@"\n`);
  chmodSync(join(bin, 'wasmfleet'), 0o755);

  const script = ['set -ex', ...markedBlocks(readFileSync(fromRoot('docs', 'modules.md'), 'utf8'))].join('\n');
  let group: number | undefined;
  // The page starts a gateway in the background: its whole process group stops with the test.
  t.after(() => {
    try {
      if (group) process.kill(-group, 'SIGTERM');
    } catch {
      // already gone
    }
  });
  const shellEnv = cleanNpmEnv({ ...env, PATH: `${bin}:${process.env.PATH}`, WASMFLEET_LOG_LEVEL: 'warn' });
  const result = await sh(script, work, shellEnv, 480_000, (pgid) => (group = pgid));
  assert.equal(result.code, 0, `the page's commands failed:\n${result.stderr.slice(-4000)}\n${result.stdout.slice(-2000)}`);
  assert.match(result.stdout, /1 passed, 0 failed/);
  assert.match(result.stdout, /published pump-health@0\.1\.0/);

  await waitFor('pump-health results from gw-lab', async () => {
    const results = await runCliJson<{ results: unknown[] }>(['results', 'gw-lab', '--module', 'pump-health'], env);
    return results.results.length > 0 ? true : undefined;
  }, 60_000, 500);
});
