// docs/scale-out.md's recipe on one machine: its ```sh terminal-N blocks run as written, each as
// its own shell (the page's terminals) in one empty temp dir, with `wasmfleet` on PATH for
// `npx wasmfleet` (in a checkout npx runs this same CLI) and free ports and a temp Redis dir in
// place of 6379, 1883, 1884, 8080 and /tmp/wf-redis. Then what the page says next: node A killed
// with kill -9, the agent on node B, a deployment and its results through node B.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../../common/paths.js';
import { cliShimDir, runCliJson } from '../helpers/cli.js';
import { freePort, redisSkipReason } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { logLines } from '../e2e/fault-helpers.js';

/** The bodies of the page's ```sh terminal-N blocks, by N. */
export function terminalBlocks(markdown: string): Map<number, string> {
  const blocks = new Map<number, string>();
  const fence = /^```sh terminal-(\d+)\n([\s\S]*?)^```$/gm;
  for (let match = fence.exec(markdown); match; match = fence.exec(markdown)) blocks.set(Number(match[1]), match[2]!);
  return blocks;
}

interface Terminal {
  readonly child: ChildProcess;
  output(): string;
}

/** One terminal: a shell in a process group of its own, so the whole group can be stopped (Ctrl-C stops a terminal's group too). */
function openTerminal(script: string, cwd: string, env: NodeJS.ProcessEnv): Terminal {
  const child = spawn('sh', ['-ec', script], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return { child, output: () => output };
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

test('the scale-out page has the four terminals of its recipe', () => {
  const blocks = terminalBlocks(readFileSync(fromRoot('docs', 'scale-out.md'), 'utf8'));
  assert.deepEqual([...blocks.keys()], [1, 2, 3, 4]);
  assert.match(blocks.get(1)!, /redis-server/);
  assert.match(blocks.get(1)!, /wasmfleet api/);
  assert.match(blocks.get(2)! + blocks.get(3)!, /wasmfleet broker[\s\S]*wasmfleet broker/);
  assert.match(blocks.get(4)!, /wasmfleet agent/);
});

test('the recipe of docs/scale-out.md works as written: two nodes, the API, an agent that survives kill -9 of its node', { skip: redisSkipReason(), timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wf-docs-scale-out-'));
  const bin = cliShimDir(dir);
  const work = join(dir, 'work');
  mkdirSync(work);
  const ports: Record<string, number> = { '6379': await freePort(), '1883': await freePort(), '1884': await freePort(), '8080': await freePort() };
  const asRun = (block: string) =>
    block
      .replace(/npx wasmfleet/g, 'wasmfleet')
      .replace(/\/tmp\/wf-redis/g, join(dir, 'wf-redis'))
      .replace(/\b(6379|1883|1884|8080)\b/g, (port) => String(ports[port]));
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}`, WASMFLEET_LOG_LEVEL: 'info' };
  // The page relies on the CLI's default API address (port 8080), here the free port in its place;
  // the token is found in ./data/admin.token as the page says.
  env.WASMFLEET_API = `http://127.0.0.1:${ports['8080']}`;
  delete env.WASMFLEET_TOKEN;
  const blocks = terminalBlocks(readFileSync(fromRoot('docs', 'scale-out.md'), 'utf8'));

  // Every terminal gets SIGTERM (the agent and the API first, Redis last with terminal 1's
  // group), then whatever is left SIGKILL, then the dir goes.
  const terminals: Terminal[] = [];
  t.after(async () => {
    for (const terminal of [...terminals].reverse()) signalGroup(terminal.child, 'SIGTERM');
    await waitFor('every terminal stopped', () => (terminals.every((terminal) => terminal.child.exitCode !== null || terminal.child.signalCode !== null) ? true : undefined), 5000, 100).catch(() => undefined);
    for (const terminal of terminals) signalGroup(terminal.child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const open = (n: number) => {
    const terminal = openTerminal(asRun(blocks.get(n)!), work, env);
    terminals.push(terminal);
    return terminal;
  };

  const api = open(1);
  const nodeA = open(2);
  const nodeB = open(3);
  const dump = () => terminals.map((terminal, i) => `--- terminal ${i + 1}\n${terminal.output().slice(-3000)}`).join('\n');
  for (const [name, terminal] of [['node A', nodeA], ['node B', nodeB]] as const) {
    await waitFor(`${name} listening`, () => (terminal.output().includes('wasmfleet broker running') ? true : undefined), 60_000, 200).catch((error) => assert.fail(`${error}\n${dump()}`));
  }
  await waitFor('the API listening', () => (logLines(api.output()).some((line) => line.msg === 'fleet api listening') ? true : undefined), 60_000, 200).catch((error) => assert.fail(`${error}\n${dump()}`));

  const agent = open(4);
  const connections = () => logLines(agent.output()).filter((line) => line.msg === 'connected to broker node').map((line) => Number(line.port));
  await waitFor('the agent connected', () => (connections().length > 0 ? true : undefined), 60_000, 200).catch((error) => assert.fail(`${error}\n${dump()}`));
  const config = JSON.parse(readFileSync(join(work, 'gw-01.agent.json'), 'utf8')) as { broker: { urls: string[] } };
  assert.deepEqual(config.broker.urls, [`mqtt://127.0.0.1:${ports['1883']}`, `mqtt://127.0.0.1:${ports['1884']}`], 'the agent config lists both nodes');

  // "Stop node A (Ctrl-C or kill -9): the agent is on node B after its reconnect delay".
  signalGroup(nodeA.child, 'SIGKILL');
  await waitFor('the agent on node B', () => (connections().at(-1) === ports['1884'] ? true : undefined), 60_000, 200).catch((error) => assert.fail(`${error}\n${dump()}`));

  // "and deployments and results go on", with the CLI as the page's reader runs it from `work`.
  const cli = { WASMFLEET_API: `http://127.0.0.1:${ports['8080']}`, WASMFLEET_TOKEN: readFileSync(join(work, 'data', 'admin.token'), 'utf8').trim(), WASMFLEET_PUBLISHER_KEY: join(work, 'data', 'keys', 'publisher.key') };
  await runCliJson(['module', 'publish', fromRoot('modules-as', 'examples', 'ema')], cli);
  await runCliJson(['deploy', 'ema@1.0.0', '--device', 'gw-01', '--config', 'every=1', '--input', 'temperature', '--immediate', '--wait', '--timeout', '90'], cli);
  await waitFor('ema results from gw-01 through node B', async () => {
    const results = await runCliJson<{ results: unknown[] }>(['results', 'gw-01', '--module', 'ema'], cli);
    return results.results.length > 0 ? true : undefined;
  }, 60_000, 500);
});
