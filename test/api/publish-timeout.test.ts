/**
 * The link's confirmed publish (fleet-api/mqtt-publish.ts publishConfirmed) waits for a late PUBACK
 * while the broker keeps sending, and gives up after its timeout when the broker is silent, or after
 * BUSY_BROKER_TIMEOUT_FACTOR times it in any case. Real Aedes on port 0 holding the PUBACK of one
 * topic (its authorizePublish answers late), real mqtt.js clients over TCP.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { BUSY_BROKER_TIMEOUT_FACTOR, publishConfirmed } from '../../fleet-api/mqtt-publish.js';
import { connectClient, startBroker } from './helpers/harness.js';

const TIMEOUT_MS = 300;

/** A broker that answers publishes on `slow/…` after `holdMs`; the link, and a chatter publishing to it every 50 ms while `chatty`. */
async function setUp(t: TestContext, holdMs: number, chatty: boolean): Promise<MqttClient> {
  const broker = await startBroker(t);
  broker.aedes.authorizePublish = (_client, packet, done) => {
    if (packet.topic.startsWith('slow/')) setTimeout(() => done(null), holdMs);
    else done(null);
  };
  const link = await connectClient(t, broker.url, 'svc', 'x');
  await link.subscribeAsync('chat', { qos: 0 });
  if (chatty) {
    const chatter = await connectClient(t, broker.url, 'chatter', 'x');
    const timer = setInterval(() => chatter.publish('chat', 'still here', { qos: 0 }), 50);
    t.after(() => clearInterval(timer));
  }
  return link;
}

test('a PUBACK later than the timeout is waited for while the broker keeps sending', async (t) => {
  const link = await setUp(t, TIMEOUT_MS * 4, true);
  const started = Date.now();
  await publishConfirmed(link, 'slow/1', Buffer.from('desired'), {}, TIMEOUT_MS);
  assert.ok(Date.now() - started >= TIMEOUT_MS * 3, 'the PUBACK came after the timeout');
});

test('a silent broker times the publish out after the timeout', async (t) => {
  const link = await setUp(t, TIMEOUT_MS * 4, false);
  await assert.rejects(publishConfirmed(link, 'slow/1', Buffer.from('desired'), {}, TIMEOUT_MS), /nothing heard from the broker/);
});

test('a broker that keeps sending but never answers is given up on at the cap', async (t) => {
  const link = await setUp(t, TIMEOUT_MS * BUSY_BROKER_TIMEOUT_FACTOR * 3, true);
  const started = Date.now();
  await assert.rejects(publishConfirmed(link, 'slow/1', Buffer.from('desired'), {}, TIMEOUT_MS), /while the broker kept sending/);
  assert.ok(Date.now() - started >= TIMEOUT_MS * BUSY_BROKER_TIMEOUT_FACTOR);
});

test('a closing link waits no longer than the timeout, the broker sending or not', async (t) => {
  const link = await setUp(t, TIMEOUT_MS * BUSY_BROKER_TIMEOUT_FACTOR * 3, true);
  let closing = false;
  const started = Date.now();
  const confirmed = publishConfirmed(link, 'slow/1', Buffer.from('desired'), {}, TIMEOUT_MS, () => !closing);
  setTimeout(() => (closing = true), TIMEOUT_MS * 2);
  await assert.rejects(confirmed, /the link closing/);
  assert.ok(Date.now() - started < TIMEOUT_MS * BUSY_BROKER_TIMEOUT_FACTOR, 'given up before the cap');
});
