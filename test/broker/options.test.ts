import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveBrokerOptions } from '../../broker/options.js';
import { isWasmfleetError } from '../../common/errors.js';
import { MAX_PACKET_BYTES } from '../../protocol/limits.js';
import { createTestVerifier } from './helpers.js';

const verifier = createTestVerifier();

test('defaults are filled in one place and the result is frozen', () => {
  const { options } = resolveBrokerOptions({ verifier });
  assert.equal(options.host, '127.0.0.1');
  assert.equal(options.port, 1883);
  assert.equal(options.maxPacketBytes, MAX_PACKET_BYTES);
  assert.equal(options.allowAnonymous, false);
  assert.equal(options.maxTopicDepth, 16);
  assert.ok(Object.isFrozen(options));
});

test('port 0 is allowed and undefined means "use the default"', () => {
  assert.equal(resolveBrokerOptions({ verifier, port: 0 }).options.port, 0);
  assert.equal(resolveBrokerOptions({ verifier, port: undefined }).options.port, 1883);
});

test('an invalid option throws WF_BROKER_BAD_OPTION naming the option', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ port: 70000 }, 'port'],
    [{ port: 'x' }, 'port'],
    [{ maxPacketBytes: 10 }, 'maxPacketBytes'],
    [{ maxTopicDepth: 3 }, 'maxTopicDepth'],
    [{ allowAnonymous: 'yes' }, 'allowAnonymous'],
    [{ prot: 1883 }, 'prot'],
  ];
  for (const [bad, option] of cases) {
    assert.throws(
      () => resolveBrokerOptions({ verifier, ...bad }),
      (error: unknown) =>
        isWasmfleetError(error, 'WF_BROKER_BAD_OPTION') && error.details.option === option && error.message.includes(`'${option}'`),
      `expected ${JSON.stringify(bad)} to be refused naming ${option}`,
    );
  }
});

test('the verifier is required', () => {
  assert.throws(
    () => resolveBrokerOptions({} as never),
    (error: unknown) => isWasmfleetError(error, 'WF_BROKER_BAD_OPTION') && error.details.option === 'verifier',
  );
});
