import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodePayload, topics } from '../../protocol/index.js';
import { runAgentFromConfigFile } from '../../device-agent/main.js';
import { ResultSeq, SEQ_BLOCK } from '../../device-agent/result-seq.js';
import { collect, connectClient, startBroker, tempDir, testTrust } from './helpers.js';

test('result sequence numbers are never reused across restarts', (t) => {
  const dir = tempDir(t);
  const first = new ResultSeq(dir);
  assert.deepEqual([first.take(), first.take(), first.take()], [0, 1, 2]);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'result-seq.json'), 'utf8')), { reservedUpTo: SEQ_BLOCK });
  const afterCrash = new ResultSeq(dir);
  assert.equal(afterCrash.take(), SEQ_BLOCK);
});

test('runAgentFromConfigFile connects from a config file and stops cleanly', async (t) => {
  const broker = await startBroker(t);
  const dir = tempDir(t);
  const path = join(dir, 'gw-07.json');
  writeFileSync(path, JSON.stringify({ deviceId: 'gw-07', broker: { url: broker.url, username: 'gw-07', password: 'pw' }, profile: 'rpi4-arm64', stateDir: 'state', logLevel: 'silent', reconnectPeriodMs: 0, trust: testTrust() }));
  const agent = await runAgentFromConfigFile(path, { signals: [] });
  const observer = await connectClient(t, broker.url);
  const online = decodePayload('status', (await collect(observer, topics.device('gw-07', 'status'), 1))[0]!);
  assert.ok(online.ok && online.value.online);
  assert.equal(agent.reportedState().agent.profile, 'rpi4-arm64');
  assert.equal(agent.reportedState().revision, 0);
  await agent.stop();
  assert.equal(agent.stats().connected, false);
});
