/**
 * The down relay on its own (unit: the two brokers are doubles recording what the relay asks of
 * them; the store is the real RelayStore on a temp dir, its writes held back at a gate). A
 * desired state is served and its module wanted upstream while the disk write is pending, not
 * after (the hub-fanout bench found rollouts waiting on 50 fsyncs per site before the module was
 * even asked for); the disk still gets both, and a restarted store serves them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { DownRelay } from '../../hub/down-relay.js';
import { RelayStore } from '../../hub/relay-store.js';
import { topics } from '../../protocol/index.js';
import { desiredModuleOf, desiredState, envelopeOf, exampleModule } from '../agent/helpers.js';
import { tempDir } from './helpers.js';

/** A RelayStore whose writes wait until `open()`; everything else is the real store. */
class GatedStore extends RelayStore {
  #release: (() => void) | undefined;
  #gate: Promise<void> | undefined;
  writesStarted = 0;

  close(): void {
    this.#gate = new Promise((resolve) => (this.#release = resolve));
  }

  open(): void {
    this.#release?.();
    this.#gate = undefined;
  }

  override async put(kind: 'desired' | 'modules', key: string, bytes: Buffer): Promise<void> {
    this.writesStarted += 1;
    await this.#gate;
    await super.put(kind, key, bytes);
  }
}

function doubles() {
  const wanted = new Set<string>();
  const published: { topic: string; payload: Buffer; retain: boolean }[] = [];
  return {
    wanted,
    published,
    upstream: {
      want: (list: Iterable<string>) => void [...list].forEach((topic) => wanted.add(topic)),
      unwant: (list: Iterable<string>) => void [...list].forEach((topic) => wanted.delete(topic)),
    },
    local: { publish: async (topic: string, payload: Buffer, retain: boolean) => void published.push({ topic, payload, retain }) },
  };
}

/** Lets every queued promise callback run (the relay's chains, the doubles' publishes). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test('a desired state is served and its module wanted upstream while the disk write is still pending; both reach the disk and a restarted store has them', async (t) => {
  const dir = tempDir(t);
  const store = new GatedStore(dir);
  const { wanted, published, upstream, local } = doubles();
  const relay = new DownRelay({ store, upstream, local, logger: silentLogger });
  await relay.setDevices(['gw-1', 'gw-2']);
  const ema = exampleModule('ema');
  const moduleTopic = topics.module(ema.sha256);
  const desired = Buffer.from(JSON.stringify(desiredState('gw-1', 1, [desiredModuleOf(ema)])));
  const envelope = Buffer.from(JSON.stringify(envelopeOf(ema)));

  store.close();
  relay.onUpstream(topics.device('gw-1', 'desired'), desired);
  assert.ok(wanted.has(moduleTopic), 'the module is wanted upstream as soon as a desired state names it');
  await settle();
  assert.equal(store.writesStarted, 1);
  assert.deepEqual(
    published.map((p) => [p.topic, p.payload.equals(desired), p.retain]),
    [[topics.device('gw-1', 'desired'), true, true]],
    'served byte for byte, retained, with its disk write still held',
  );

  relay.onUpstream(moduleTopic, envelope);
  await settle();
  assert.equal(store.writesStarted, 2);
  assert.ok(published.some((p) => p.topic === moduleTopic && p.payload.equals(envelope) && p.retain), 'the module too');
  assert.equal(store.get('desired', 'gw-1'), undefined, 'not on disk yet');

  store.open();
  await relay.idle();
  assert.ok(store.get('desired', 'gw-1')?.equals(desired));
  assert.ok(store.get('modules', ema.sha256)?.equals(envelope));
  const reopened = new RelayStore(dir);
  assert.ok(reopened.get('desired', 'gw-1')?.equals(desired), 'durable: a restarted hub serves it from disk');
  assert.ok(reopened.get('modules', ema.sha256)?.equals(envelope));

  // The same bytes again change nothing; a desired state naming no module drops the module
  // upstream at once, even while its own write is held, then from the disk and the site broker.
  relay.onUpstream(topics.device('gw-1', 'desired'), desired);
  await relay.idle();
  assert.equal(published.filter((p) => p.topic === topics.device('gw-1', 'desired')).length, 1);
  store.close();
  relay.onUpstream(topics.device('gw-1', 'desired'), Buffer.from(JSON.stringify(desiredState('gw-1', 2, []))));
  assert.ok(!wanted.has(moduleTopic), 'unwanted upstream at once');
  store.open();
  await relay.idle();
  assert.ok(published.some((p) => p.topic === moduleTopic && p.payload.byteLength === 0 && p.retain), 'cleared on the site broker');
  assert.equal(store.get('modules', ema.sha256), undefined);
  assert.equal(new RelayStore(dir).get('modules', ema.sha256), undefined, 'and gone from the disk');
});

test('a device dropped from the site: its desired state and the module only it named go, while another device keeps a module it names', async (t) => {
  const store = new RelayStore(tempDir(t));
  const { wanted, published, upstream, local } = doubles();
  const relay = new DownRelay({ store, upstream, local, logger: silentLogger });
  await relay.setDevices(['gw-1', 'gw-2']);
  const ema = exampleModule('ema');
  const threshold = exampleModule('threshold');
  relay.onUpstream(topics.device('gw-1', 'desired'), Buffer.from(JSON.stringify(desiredState('gw-1', 1, [desiredModuleOf(ema), desiredModuleOf(threshold)]))));
  relay.onUpstream(topics.device('gw-2', 'desired'), Buffer.from(JSON.stringify(desiredState('gw-2', 1, [desiredModuleOf(ema)]))));
  relay.onUpstream(topics.module(ema.sha256), Buffer.from(JSON.stringify(envelopeOf(ema))));
  relay.onUpstream(topics.module(threshold.sha256), Buffer.from(JSON.stringify(envelopeOf(threshold))));
  await relay.idle();
  assert.ok(store.get('modules', threshold.sha256) && store.get('modules', ema.sha256));

  await relay.setDevices(['gw-2']);
  await relay.idle();
  assert.equal(store.get('desired', 'gw-1'), undefined);
  assert.ok(published.some((p) => p.topic === topics.device('gw-1', 'desired') && p.payload.byteLength === 0));
  assert.ok(!wanted.has(topics.module(threshold.sha256)) && !wanted.has(topics.device('gw-1', 'desired')));
  assert.equal(store.get('modules', threshold.sha256), undefined);
  assert.ok(wanted.has(topics.module(ema.sha256)) && store.get('modules', ema.sha256), 'still named by gw-2');
});
