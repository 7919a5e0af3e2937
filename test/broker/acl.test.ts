import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decidePublish, decideSubscribe } from '../../broker/acl.js';
import type { Principal } from '../../broker/credentials.js';
import { topics } from '../../protocol/topics.js';
import { PAYLOAD_CAPS } from '../../protocol/limits.js';
import { SERVICE_USERNAME } from '../../protocol/ids.js';
import { SHA_A } from './helpers.js';

const A: Principal = { kind: 'device', deviceId: 'gw-a' };
const service: Principal = { kind: 'service', name: SERVICE_USERNAME };

const pub = (p: Principal | undefined, topic: string) => decidePublish(p, topic).allowed;
const sub = (p: Principal | undefined, filter: string) => decideSubscribe(p, filter).allowed;

test('[WF-P-ACL-1] a device publishes only its own reported/status/results', () => {
  assert.ok(pub(A, topics.device('gw-a', 'reported')));
  assert.ok(pub(A, topics.device('gw-a', 'status')));
  assert.ok(pub(A, topics.device('gw-a', 'results')));
  assert.ok(!pub(A, topics.device('gw-a', 'desired')));
  assert.ok(!pub(A, topics.device('gw-b', 'reported')));
  assert.ok(!pub(A, topics.module(SHA_A)));
  assert.ok(!pub(A, '$SYS/broker/heartbeat'));
  assert.ok(!pub(A, 'wf/v1/devices/gw-a/reported/extra'));
  assert.ok(!pub(A, 'other/topic'));
});

test('[WF-P-ACL-1] a device subscribes only to its own desired state and to modules', () => {
  assert.ok(sub(A, topics.device('gw-a', 'desired')));
  assert.ok(sub(A, topics.allModules));
  assert.ok(sub(A, topics.module(SHA_A)));
  for (const filter of [
    topics.device('gw-b', 'desired'),
    topics.device('gw-a', 'reported'),
    topics.allDevices('desired'),
    topics.allDevices('results'),
    'wf/v1/devices/gw-a/+',
    'wf/v1/devices/#',
    'wf/v1/#',
    '#',
    '+/+/+/+/+',
    'wf/v1/modules/#',
    '$SYS/#',
  ]) {
    assert.ok(!sub(A, filter), filter);
  }
});

test('[WF-P-ACL-1] the service publishes modules and desired states only', () => {
  assert.ok(pub(service, topics.module(SHA_A)));
  assert.ok(pub(service, topics.device('gw-a', 'desired')));
  assert.ok(!pub(service, topics.device('gw-a', 'reported')));
  assert.ok(!pub(service, topics.device('gw-a', 'results')));
  assert.ok(!pub(service, 'wf/v1/modules/not-a-hash'));
  assert.ok(!pub(service, 'wf/v1/devices/Bad Id/desired'));
  assert.ok(!pub(service, '$SYS/x'));
});

test('[WF-P-ACL-1] the service subscribes to what devices report and to modules', () => {
  for (const channel of ['reported', 'status', 'results'] as const) {
    assert.ok(sub(service, topics.allDevices(channel)));
    assert.ok(sub(service, topics.device('gw-a', channel)));
  }
  assert.ok(sub(service, topics.allModules));
  assert.ok(!sub(service, topics.allDevices('desired')));
  assert.ok(!sub(service, '#'));
  assert.ok(!sub(service, 'wf/v1/#'));
  assert.ok(!sub(service, '$SYS/#'));
});

test('an anonymous client (no principal, allowAnonymous only) may only read what devices report', () => {
  for (const channel of ['status', 'reported', 'results'] as const) {
    assert.ok(!pub(undefined, topics.device('gw-a', channel)));
    assert.ok(sub(undefined, topics.allDevices(channel)));
    assert.ok(sub(undefined, topics.device('gw-a', channel)));
  }
  assert.ok(!pub(undefined, topics.device('gw-a', 'desired')));
  assert.ok(!pub(undefined, topics.module(SHA_A)));
  assert.ok(!pub(undefined, topics.controlRevoke));
  assert.ok(!sub(undefined, topics.allModules));
  assert.ok(!sub(undefined, topics.module(SHA_A)));
  assert.ok(!sub(undefined, topics.allDevices('desired')));
  assert.ok(!sub(undefined, topics.device('gw-a', 'desired')));
  assert.ok(!sub(undefined, topics.controlRevoke));
  assert.ok(!sub(undefined, '#'));
  assert.ok(!sub(undefined, 'wf/v1/#'));
  assert.ok(!sub(undefined, 'wf/v1/devices/#'));
  assert.ok(!sub(undefined, '$SYS/#'));
});

test('[WF-P-CAP-1] an allowed publish carries the cap of its topic kind', () => {
  const decision = decidePublish(A, topics.device('gw-a', 'status'));
  assert.deepEqual(decision, { allowed: true, kind: 'status', cap: PAYLOAD_CAPS.status });
  const module = decidePublish(service, topics.module(SHA_A));
  assert.deepEqual(module, { allowed: true, kind: 'module', cap: PAYLOAD_CAPS.module });
});

test('[WF-P-T-7] [WF-P-T-8] a device publishes its spooled results and reads only its own acks; the service the reverse', () => {
  assert.ok(pub(A, topics.device('gw-a', 'spooled')));
  assert.ok(!pub(A, topics.device('gw-b', 'spooled')));
  assert.ok(!pub(A, topics.device('gw-a', 'ack')), 'a device cannot ack itself');
  assert.ok(sub(A, topics.device('gw-a', 'ack')));
  assert.ok(!sub(A, topics.device('gw-b', 'ack')));
  assert.ok(!sub(A, topics.allDevices('ack')));
  assert.ok(pub(service, topics.device('gw-a', 'ack')));
  assert.ok(!pub(service, topics.device('gw-a', 'spooled')));
  assert.ok(sub(service, topics.allDevices('spooled')));
  assert.ok(!sub(service, topics.allDevices('ack')));
  assert.deepEqual(decidePublish(A, topics.device('gw-a', 'spooled')), { allowed: true, kind: 'spooled', cap: PAYLOAD_CAPS.spooled });
});
