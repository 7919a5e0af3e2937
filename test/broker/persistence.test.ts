/**
 * Our single-node persistence (broker/retained-index.ts: Aedes' memory persistence with retained
 * messages indexed by topic and persistent sessions' outgoing queues indexed) against the whole
 * conformance suite aedes-persistence ships for any persistence: retained messages, subscriptions,
 * outgoing queues (enqueue, update, clear, stream, in order), incoming packets, wills.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { indexedMemoryPersistence } from '../../broker/retained-index.js';

const require = createRequire(import.meta.url);
const abstractPersistence = require('aedes-persistence/abstract.js') as (options: { test: typeof test; persistence: () => unknown; testAsync?: boolean }) => void;

abstractPersistence({ test, persistence: () => indexedMemoryPersistence(), testAsync: true });

test('outgoing queues answer as the stock memory persistence does, over random enqueues, updates and clears', async () => {
  type P = {
    outgoingEnqueue(sub: { clientId: string }, packet: object, cb: (error?: Error) => void): void;
    outgoingUpdate(client: { id: string }, packet: object, cb: (error?: Error) => void): void;
    outgoingClearMessageId(client: { id: string }, packet: object, cb: (error: Error | null, packet?: { brokerCounter?: number }) => void): void;
    outgoingStream(client: { id: string }): AsyncIterable<{ brokerId: string; brokerCounter: number; messageId?: number }>;
  };
  const stock = (require('aedes-persistence') as () => P)();
  const ours = indexedMemoryPersistence() as P;
  // Ready once given a broker, as Aedes does at start.
  for (const p of [stock, ours] as unknown as Array<{ broker: object }>) p.broker = { id: 'b', counter: 0 };
  const call = <T>(run: (cb: (error: Error | null | undefined, value?: T) => void) => void) =>
    new Promise<{ error: string | null; value?: T }>((resolve) => run((error, value) => resolve({ error: error ? error.message : null, value })));
  const listed = async (p: P) => {
    const out: string[] = [];
    for await (const packet of p.outgoingStream({ id: 'c' })) out.push(`${packet.brokerId}:${packet.brokerCounter}:${packet.messageId}`);
    return out;
  };
  // A small seeded generator: the same sequence every run.
  let seed = 42;
  const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  let counter = 0;
  for (let i = 0; i < 3000; i++) {
    const op = random(3);
    const brokerId = random(4) === 0 ? 'other' : 'b';
    const messageId = random(20) + 1;
    if (op === 0) {
      counter += 1;
      const packet = { cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, brokerId, brokerCounter: counter };
      await call((cb) => stock.outgoingEnqueue({ clientId: 'c' }, packet, cb));
      await call((cb) => ours.outgoingEnqueue({ clientId: 'c' }, packet, cb));
    } else if (op === 1) {
      const packet = { cmd: 'publish', topic: 't', payload: Buffer.from('y'), qos: 1, brokerId, brokerCounter: random(counter + 1), messageId };
      const [a, b] = [await call((cb) => stock.outgoingUpdate({ id: 'c' }, { ...packet }, cb)), await call((cb) => ours.outgoingUpdate({ id: 'c' }, { ...packet }, cb))];
      assert.equal(b.error, a.error, `update ${JSON.stringify(packet)} at step ${i}`);
    } else {
      const [a, b] = [
        await call<{ brokerCounter?: number }>((cb) => stock.outgoingClearMessageId({ id: 'c' }, { messageId }, cb)),
        await call<{ brokerCounter?: number }>((cb) => ours.outgoingClearMessageId({ id: 'c' }, { messageId }, cb)),
      ];
      assert.equal(b.value?.brokerCounter, a.value?.brokerCounter, `clear ${messageId} at step ${i}`);
    }
    if (i % 100 === 0) assert.deepEqual(await listed(ours), await listed(stock), `queues at step ${i}`);
  }
  assert.deepEqual(await listed(ours), await listed(stock));
});
