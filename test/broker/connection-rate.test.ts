import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionRateLimiter } from '../../broker/rate-limit.js';
import { connect, connectDevice, startTestBroker } from './helpers.js';

test('a burst of connections from one address is refused with CONNACK 3 past its burst, and counted', async (t) => {
  const tb = await startTestBroker(t, { connectRatePerAddress: 1, connectBurstPerAddress: 3 });
  const secret = await tb.verifier.addDevice('gw-1');
  const options = { clientId: 'gw-1', username: 'gw-1', password: secret };
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => connect(t, tb.broker.url, { ...options, clean: true })));
  const refused = results.filter((r) => r.status === 'rejected');
  assert.ok(refused.length >= 3, `refused ${refused.length}`);
  for (const r of refused) assert.equal((r as PromiseRejectedResult).reason.code, 3);
  assert.equal(tb.broker.stats().connectionRateRefusals, refused.length);
  assert.equal(tb.broker.stats().authRefusals, 0, 'rate refusals are not credential refusals');
  const line = tb.logs.lines.find((l) => l.code === 'WF_BROKER_CONNECTION_RATE_LIMITED');
  assert.equal(line?.returnCode, 3);
  assert.match(String(line?.reason), /127\.0\.0\.1/);
});

test('the global limit applies across addresses; each limit 0 means none', () => {
  let now = 0;
  const limiter = new ConnectionRateLimiter({ perAddressPerSec: 10, perAddressBurst: 10, globalPerSec: 1, globalBurst: 2 }, () => now);
  assert.deepEqual([limiter.admit('10.0.0.1'), limiter.admit('10.0.0.2'), limiter.admit('10.0.0.3')], [true, true, false]);
  now += 1000;
  assert.equal(limiter.admit('10.0.0.3'), true);
  const open = new ConnectionRateLimiter({ perAddressPerSec: 0, perAddressBurst: 1, globalPerSec: 0, globalBurst: 1 }, () => now);
  for (let i = 0; i < 100; i += 1) assert.ok(open.admit('10.0.0.1'));
});

test('one address over its limit does not use up the global allowance', () => {
  const now = 0;
  const limiter = new ConnectionRateLimiter({ perAddressPerSec: 1, perAddressBurst: 1, globalPerSec: 1, globalBurst: 2 }, () => now);
  assert.equal(limiter.admit('10.0.0.1'), true);
  for (let i = 0; i < 10; i += 1) assert.equal(limiter.admit('10.0.0.1'), false);
  assert.equal(limiter.admit('10.0.0.2'), true);
});

test('connections within the default limits are unaffected', async (t) => {
  const tb = await startTestBroker(t);
  for (let i = 0; i < 10; i += 1) await connectDevice(t, tb, `gw-${i}`);
  assert.equal(tb.broker.stats().connectionRateRefusals, 0);
  assert.equal(tb.broker.stats().connectedClients, 10);
});
