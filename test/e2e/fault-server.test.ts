/**
 * kill -9 of the real server process (broker, API and SQLite in one) while agents stream, then a
 * restart on the same data directory: the broker's retained modules and desired states are gone
 * with the process and must be re-derived from SQLite, and every result the agents produced is
 * in the database once, or counted as dropped, whatever the crash caught in flight. The agents'
 * ack timeout is set to 10 minutes: their backlogs must be stored by the resends that follow a
 * connect (docs/operations.md §Restarts), never by the timeout's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { decodePayload, topics, type DesiredState } from '../../protocol/index.js';
import { waitFor } from '../helpers/wait.js';
import { assertExactAccounting, Fleet, stoppedLog } from './fault-helpers.js';

test('kill -9 the server mid-stream: retained state re-derived from SQLite, every result stored once or counted', async (t) => {
  const fleet = await Fleet.start(t);
  const devices = ['gw-s1', 'gw-s2'];
  const ACK_TIMEOUT_MS = 600_000;
  for (const id of devices) await fleet.addDevice(id, { resultAckTimeoutMs: ACK_TIMEOUT_MS });
  const runs = await fleet.streaming(devices, 8);

  await fleet.killServer();
  const storedAtCrash = devices.map((id) => fleet.storedSeqs(id).length);
  // The agents keep computing into their spools while nothing answers.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  await fleet.startServer();

  await waitFor('results after the restart', () => (devices.every((id, i) => fleet.storedSeqs(id).length >= storedAtCrash[i]! + 20) ? true : undefined), 45_000);
  // An agent resends its unacked results as soon as it reconnects, often before the restarted
  // API has subscribed: the fresh in-memory broker drops them. The agent sends them again soon
  // after the connect, not at its ack timeout, so every backlog is stored well before that.
  const firstSeqs = await Promise.all(runs.map((run) => run.firstSeq()));
  const gapsOf = (id: string, from: number): number => {
    const stored = fleet.storedSeqs(id).filter((seq) => seq >= from).sort((a, b) => a - b);
    return stored.length === 0 ? 1 : stored[stored.length - 1]! - from + 1 - stored.length;
  };
  const restartedAt = Date.now();
  await waitFor('each backlog stored', () => (devices.every((id, i) => gapsOf(id, firstSeqs[i]!) === 0) ? true : undefined), 60_000);
  assert.ok(Date.now() - restartedAt < ACK_TIMEOUT_MS / 4, 'stored long before any ack timeout could have fired');
  for (const [index, id] of devices.entries()) {
    const run = runs[index]!;
    assert.equal(await run.process.stop(), 0);
    const stopped = stoppedLog(run)!;
    const spool = stopped.spool as { pending: number; droppedRanges: [number, number][] };
    assert.equal(spool.pending, 0, `${id}: everything acked`);
    const counts = assertExactAccounting(fleet.storedSeqs(id), spool.droppedRanges, [await run.firstSeq()], stopped.nextSeq as number);
    assert.equal(counts.dropped, 0);
    // The agent never restarted: one gap-free range from its first seq to its last.
    assert.equal(counts.stored, (stopped.nextSeq as number) - (await run.firstSeq()));

    // With its agent stopped, a client with the device's credentials sees what the restarted
    // broker retains for it: only what the API re-derived from SQLite.
    const config = JSON.parse(readFileSync(join(fleet.dir, `${id}.json`), 'utf8')) as { broker: { username: string; password: string } };
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${fleet.mqttPort}`, {
      protocolVersion: 4,
      clientId: id,
      username: config.broker.username,
      password: config.broker.password,
      reconnectPeriod: 0,
    });
    t.after(() => client.endAsync(true));
    const retained = new Map<string, Buffer>();
    client.on('message', (topic, payload, packet) => {
      if (packet.retain) retained.set(topic, payload);
    });
    await client.subscribeAsync(topics.device(id, 'desired'), { qos: 1 });
    const desired = await waitFor('the retained desired state', () => retained.get(topics.device(id, 'desired')), 10_000);
    const decoded = decodePayload('desired', desired);
    assert.ok(decoded.ok);
    const state = decoded.value as DesiredState;
    assert.equal(state.deviceId, id);
    assert.equal(state.modules[0]?.name, 'ema');
    await client.subscribeAsync(topics.module(state.modules[0]!.sha256), { qos: 1 });
    const envelope = await waitFor('the retained module', () => retained.get(topics.module(state.modules[0]!.sha256)), 10_000);
    assert.ok(decodePayload('module', envelope).ok);
    await client.endAsync();
  }
});
