/** Every command documents itself: --help exits 0 and shows at least one example. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';

const COMMANDS = [
  [],
  ['server'],
  ['broker'],
  ['api'],
  ['agent'],
  ['device'],
  ['device', 'add'],
  ['device', 'list'],
  ['device', 'show'],
  ['device', 'remove'],
  ['device', 'rotate-credentials'],
  ['hub'],
  ['hub', 'add'],
  ['hub', 'list'],
  ['hub', 'show'],
  ['hub', 'remove'],
  ['token'],
  ['token', 'create'],
  ['token', 'list'],
  ['token', 'revoke'],
  ['audit'],
  ['certs'],
  ['certs', 'init'],
  ['certs', 'client'],
  ['module'],
  ['module', 'new'],
  ['module', 'build'],
  ['module', 'test'],
  ['module', 'run'],
  ['module', 'publish'],
  ['module', 'dev'],
  ['module', 'list'],
  ['module', 'show'],
  ['module', 'delete'],
  ['deploy'],
  ['deployment'],
  ['deployment', 'show'],
  ['deployment', 'list'],
  ['deployment', 'pause'],
  ['deployment', 'resume'],
  ['deployment', 'cancel'],
  ['deployment', 'rollback'],
  ['deployment', 'history'],
  ['results'],
  ['query'],
  ['demo'],
  ['backup'],
  ['keys'],
  ['keys', 'create'],
  ['keys', 'list'],
  ['keys', 'trust'],
  ['keys', 'revoke'],
  ['keys', 'rotate-fleet'],
  ['keys', 'sign-trusted'],
];

/** CLI processes at once: ~50 Node starts together would storm a loaded machine. */
const AT_ONCE = 4;

/** `run` on every item, at most `limit` at a time; the results in the items' order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

test('every command has --help with an example and the --json option', async () => {
  const results = await mapBounded(COMMANDS, AT_ONCE, (command) => runCli([...command, '--help']));
  results.forEach((result, i) => {
    const name = ['wasmfleet', ...COMMANDS[i]!].join(' ');
    assert.equal(result.code, 0, `${name} --help exits 0`);
    assert.match(result.stdout, /Examples:/, `${name} --help shows an example`);
    assert.match(result.stdout, /--json/, `${name} --help lists --json`);
  });
});

test('errors name the problem, as JSON with --json, and exit non-zero', async () => {
  const unreachable = await runCli(['device', 'list', '--api', 'http://127.0.0.1:9', '--token', 'x', '--json']);
  assert.notEqual(unreachable.code, 0);
  const body = JSON.parse(unreachable.stdout) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'WF_CLI_API_UNREACHABLE');

  const badRef = await runCli(['deploy', 'not-a-ref', '--tag', 'a=b', '--token', 'x']);
  assert.notEqual(badRef.code, 0);
  assert.match(badRef.stderr, /WF_CLI_BAD_ARGUMENT: NAME@VERSION/);

  const badTag = await runCli(['device', 'add', 'gw-1', '--profile', 'sim-x86-64', '--tag', 'novalue', '--token', 'x']);
  assert.match(badTag.stderr, /--tag: expected key=value/);

  const unknown = await runCli(['frobnicate']);
  assert.equal(unknown.code, 2);
});
