import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../common/logger.js';
import { runStopSequence, settledWithin, stopBound } from '../../common/stop-sequence.js';
import { exitWhenStopped } from '../../common/signals.js';

const never = new Promise<void>(() => undefined);

test('a step that never finishes is abandoned at its budget, told so by its signal, and the next step still runs', async () => {
  const ran: string[] = [];
  let aborted = false;
  const outcome = await runStopSequence(
    [
      { name: 'hangs', maxMs: 30, run: (signal) => (signal.addEventListener('abort', () => (aborted = true)), never) },
      { name: 'throws', maxMs: 30, run: () => Promise.reject(new Error('disk gone')) },
      { name: 'after', maxMs: 30, run: () => void ran.push('after') },
    ],
    silentLogger,
  );
  assert.deepEqual(outcome.overran, ['hangs']);
  assert.deepEqual(outcome.failed, ['throws']);
  assert.deepEqual(ran, ['after']);
  assert.equal(aborted, true);
  assert.equal(stopBound([{ name: 'a', maxMs: 30, run: () => undefined }, { name: 'b', maxMs: 12, run: () => undefined }]), 42);
});

test('settledWithin: true for a settled promise either way, false for one that never settles; never rejects', async () => {
  assert.equal(await settledWithin(Promise.resolve(1), 10), true);
  assert.equal(await settledWithin(Promise.reject(new Error('x')), 10), true);
  assert.equal(await settledWithin(never, 10), false);
});

test('exitWhenStopped: 0 after a clean stop, 1 after a failed one, 1 at the bound for one that hangs', async () => {
  const codes: number[] = [];
  const exit = (code: number) => void codes.push(code);
  exitWhenStopped(Promise.resolve(), { logger: silentLogger, boundMs: 1000, exit });
  exitWhenStopped(Promise.reject(new Error('broken')), { logger: silentLogger, boundMs: 1000, exit });
  exitWhenStopped(never, { logger: silentLogger, boundMs: 20, exit });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(codes.sort(), [0, 1, 1]);
});
