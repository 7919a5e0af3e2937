/**
 * A cached module corrupted on disk between two runs of a real agent process: the restart finds
 * the hash wrong, discards the entry, fetches the module again from its retained topic and runs
 * it; the results of both runs are all accounted for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../../protocol/index.js';
import { waitFor } from '../helpers/wait.js';
import { assertExactAccounting, Fleet, logLines, stoppedLog, type AgentRun } from './fault-helpers.js';

test('a corrupt cached module is detected by its hash, fetched again and run', async (t) => {
  const fleet = await Fleet.start(t);
  await fleet.addDevice('gw-c1');
  const [first] = (await fleet.streaming(['gw-c1'], 4)) as [AgentRun];
  assert.equal(await first.process.stop(), 0);

  const modulesDir = join(fleet.stateDir('gw-c1'), 'modules');
  const [file] = readdirSync(modulesDir).filter((name) => name.endsWith('.module'));
  const path = join(modulesDir, file!);
  const bytes = readFileSync(path);
  const middle = bytes.byteLength >> 1;
  bytes[middle] = bytes[middle]! ^ 0xff;
  writeFileSync(path, bytes);
  const stored = fleet.storedSeqs('gw-c1').length;

  const second = fleet.startAgent('gw-c1');
  await waitFor('results from the refetched module', () => (fleet.storedSeqs('gw-c1').length >= stored + 8 ? true : undefined), 30_000);
  const lines = logLines(second.process.output());
  assert.ok(lines.some((line) => line.msg === 'corrupt module cache entry discarded; it will be fetched again'));
  const entry = readFileSync(path);
  assert.equal(sha256Hex(entry.subarray(entry.indexOf(0x0a) + 1)), file!.replace(/\.module$/, ''), 'the cache holds the right bytes again');
  assert.equal(await second.process.stop(), 0);

  const stopped = stoppedLog(second)!;
  const spool = stopped.spool as { pending: number; droppedRanges: [number, number][] };
  assert.equal(spool.pending, 0);
  assertExactAccounting(fleet.storedSeqs('gw-c1'), spool.droppedRanges, [await first.firstSeq(), await second.firstSeq()], stopped.nextSeq as number);
});
