import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveOptions } from '../../fleet-api/config.js';
import { isWasmfleetError } from '../../common/errors.js';

const base = { dbPath: '/tmp/x.db', mqtt: { url: 'mqtt://127.0.0.1:1883', password: 'p' } };

test('options get their defaults once and are frozen', () => {
  const options = resolveOptions(base);
  assert.equal(options.bodyLimitBytes, 64 * 1024);
  assert.equal(options.largeBodyLimitBytes, 4 * 1024 * 1024);
  assert.equal(options.http.port, 8080);
  assert.equal(options.publicMqttUrl, 'mqtt://127.0.0.1:1883');
  assert.equal(options.mqtt.username, 'wf:fleet-api');
  assert.equal(options.retention.days, 30);
  assert.ok(Object.isFrozen(options) && Object.isFrozen(options.mqtt));
});

test('a bad option is refused naming it', () => {
  const cases: Array<[object, string]> = [
    [{ ...base, http: { port: 70000 } }, 'http/port'],
    [{ ...base, mqtt: { url: 'http://x', password: 'p' } }, 'mqtt/url'],
    [{ ...base, colour: 'red' }, 'colour'],
    [{ ...base, jobs: { offlineDetection: 'every minute' } }, 'jobs/offlineDetection'],
  ];
  for (const [input, field] of cases) {
    assert.throws(
      () => resolveOptions(input as typeof base),
      (error: unknown) => isWasmfleetError(error, 'WF_API_OPTION_INVALID') && error.details.field === field && error.message.includes(field),
      field,
    );
  }
});

test('several public broker URLs: agent configs get the list, the first is the public URL', () => {
  const nodes = ['mqtt://node-a:1883', 'mqtt://node-b:1883'];
  const options = resolveOptions({ dbPath: 'x.db', mqtt: { url: 'mqtt://127.0.0.1:1883', password: 'p' }, publicMqttUrls: nodes });
  assert.deepEqual(options.publicMqttUrls, nodes);
  assert.equal(options.publicMqttUrl, 'mqtt://node-a:1883');
  const single = resolveOptions({ dbPath: 'x.db', mqtt: { url: 'mqtt://127.0.0.1:1883', password: 'p' } });
  assert.deepEqual(single.publicMqttUrls, ['mqtt://127.0.0.1:1883']);
});
