import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { loadProfile } from '../../firmware-profiles/index.js';
import type { BatchConsumer } from '../../device-agent/batcher.js';
import type { VerifiedModule } from '../../device-agent/module-verify.js';
import { agentErrors } from '../../device-agent/errors.js';
import { Reconciler } from '../../device-agent/reconciler.js';
import { grantLimits } from '../../protocol/index.js';
import type { DesiredModule, Manifest, ResultBatch } from '../../protocol/index.js';
import { desiredState } from './helpers.js';
import { fakeSandboxes, SandboxFault } from './fakes.js';

const profile = loadProfile('sim-x86-64');
const DEVICE = 'gw-01';

const manifest = (name: string): Manifest => ({
  name,
  version: '1.0.0',
  abi: 1,
  description: 'test',
  params: { alpha: { type: 'number', default: 0.1, minimum: 0, maximum: 1 } },
  inputs: [{ name: 'signal' }],
  metrics: [{ name: 'count' }],
  events: [],
  limits: { memoryPages: 16, cpuMsPerBatch: 500 },
});

const entry = (name: string, overrides: Partial<DesiredModule> = {}): DesiredModule => ({
  name,
  version: '1.0.0',
  sha256: (name.charCodeAt(0).toString(16) + '0').repeat(32).slice(0, 64),
  size: 100,
  deploymentId: `dep_${name}`,
  config: {},
  ...overrides,
});

function harness(options: { failFetches?: Set<string>; refuseFetches?: Set<string>; abiRefuses?: Set<string>; fetchRetry?: { minMs: number; maxMs: number } } = {}) {
  const sandboxes = fakeSandboxes();
  const fetched: string[] = [];
  const attached = new Map<string, { source: string; consumer: BatchConsumer }>();
  const results: ResultBatch[] = [];
  const applied: number[] = [];
  let seq = 0;
  const reconciler = new Reconciler({
    deviceId: DEVICE,
    profile,
    fetchModule: async (desired): Promise<VerifiedModule> => {
      fetched.push(desired.name);
      if (desired.name === 'missing') throw new Error('module missing@1.0.0 not found');
      if (options.failFetches?.has(desired.name)) {
        throw agentErrors.WF_AGENT_MODULE_SUBSCRIBE_REFUSED({ name: desired.name, version: desired.version, topic: `wf/v1/modules/${desired.sha256}`, reason: 'Connection closed' });
      }
      if (options.refuseFetches?.has(desired.name)) {
        throw agentErrors.WF_AGENT_MODULE_SIGNATURE({ name: desired.name, version: desired.version, reason: 'not signed by a trusted publisher key: it is not signed' });
      }
      if (options.abiRefuses?.has(desired.name)) {
        throw agentErrors.WF_AGENT_MODULE_ABI_REFUSED({ name: desired.name, version: desired.version, reason: 'missing export: run' });
      }
      return { sha256: desired.sha256, manifest: manifest(desired.name), wasm: new Uint8Array(8) };
    },
    startSandbox: (options) => sandboxes.factory(options),
    attach: (source, consumer) => {
      attached.set(consumer.id, { source, consumer });
      return () => attached.delete(consumer.id);
    },
    nextResultSeq: () => seq++,
    publishResult: (batch) => results.push(batch),
    backoff: { baseMs: 5, maxMs: 20, maxConsecutiveFaults: 3 },
    onChange: () => undefined,
    onApplied: (revision) => applied.push(revision),
    ...(options.fetchRetry ? { fetchRetry: options.fetchRetry } : {}),
    logger: silentLogger,
  });
  return { reconciler, sandboxes, fetched, attached, results, applied };
}

async function waitUntil(condition: () => boolean, pollMs = 10, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

const stateOf = (r: Reconciler) => Object.fromEntries(r.modules().map((m) => [m.name, m.state]));

test('apply starts modules, equal revision is a no-op, lower is refused as stale', async () => {
  const h = harness();
  await h.reconciler.submit(desiredState(DEVICE, 3, [entry('ema', { config: { alpha: 0.5 } }), entry('zscore', { input: 'pressure' })]));
  assert.equal(h.reconciler.appliedRevision, 3);
  assert.deepEqual(stateOf(h.reconciler), { ema: 'running', zscore: 'running' });
  assert.deepEqual([...h.attached.values()].map((a) => a.source).sort(), ['pressure', 'temperature'], 'input defaults to the first source');
  const ema = h.sandboxes.started.find((o) => o.manifest.name === 'ema')!;
  assert.deepEqual(ema.config, { alpha: 0.5 });
  assert.deepEqual(ema.limits, { memoryPages: 16, cpuMsPerBatch: 200, maxOutputsPerBatch: 2048 });
  assert.equal(ema.batchCapacity, profile.batch.maxSamples);

  await h.reconciler.submit(desiredState(DEVICE, 3, [entry('other')]));
  assert.equal(h.sandboxes.started.length, 2, 'equal revision: nothing restarted');
  assert.deepEqual(stateOf(h.reconciler), { ema: 'running', zscore: 'running' });

  await h.reconciler.submit(desiredState(DEVICE, 2, []));
  assert.equal(h.reconciler.appliedRevision, 3);
  assert.equal(h.sandboxes.open.size, 2);
  assert.equal(h.reconciler.errors()[0]?.code, 'WF_AGENT_DESIRED_STALE');

  await h.reconciler.submit(desiredState('gw-99', 9, []));
  assert.equal(h.reconciler.errors()[1]?.code, 'WF_AGENT_DESIRED_OTHER_DEVICE');
  assert.equal(h.reconciler.appliedRevision, 3);
  await h.reconciler.stop();
  assert.equal(h.sandboxes.open.size, 0);
});

test('changed modules restart, removed ones stop, unchanged ones are untouched', async () => {
  const h = harness();
  await h.reconciler.submit(desiredState(DEVICE, 1, [entry('ema'), entry('zscore'), entry('threshold')]));
  const before = new Map([...h.attached.values()].map((a) => [a.consumer.id, a.consumer]));
  await h.reconciler.submit(
    desiredState(DEVICE, 2, [entry('ema'), entry('zscore', { config: { alpha: 0.2 } }), entry('peak')]),
  );
  assert.deepEqual(h.fetched, ['ema', 'zscore', 'threshold', 'zscore', 'peak']);
  assert.equal(h.attached.get('dep_ema/ema')?.consumer, before.get('dep_ema/ema'), 'ema kept its runner');
  assert.notEqual(h.attached.get('dep_zscore/zscore')?.consumer, before.get('dep_zscore/zscore'), 'zscore restarted');
  assert.equal(h.attached.has('dep_threshold/threshold'), false, 'threshold stopped');
  assert.equal(h.sandboxes.open.size, 3);
  assert.deepEqual(h.reconciler.errors(), []);

  await h.reconciler.submit(null);
  assert.equal(h.sandboxes.open.size, 0, 'no desired state: everything stops');
  assert.deepEqual(h.reconciler.modules(), []);
  await h.reconciler.submit(desiredState(DEVICE, 2, [entry('ema')]));
  assert.deepEqual(stateOf(h.reconciler), { ema: 'running' }, 'the same revision applies again after a clear');
  await h.reconciler.stop();
});

test('failures are per module: unknown source, fetch refusal, bad config, capacity', async () => {
  const h = harness();
  const many = Array.from({ length: profile.moduleLimits.maxModules }, (_, i) => entry(`m${i}`, { sha256: String(i).padStart(64, 'a') }));
  await h.reconciler.submit(
    desiredState(DEVICE, 1, [
      entry('ema', { input: 'nope' }),
      entry('missing'),
      entry('zscore', { config: { beta: 1 } }),
      ...many,
    ]),
  );
  const byName = Object.fromEntries(h.reconciler.modules().map((m) => [m.name, m]));
  assert.match(byName.ema!.reason!, /wants input 'nope'.*has: temperature, vibration, pressure/);
  assert.match(byName.missing!.reason!, /not found/);
  assert.match(byName.zscore!.reason!, /config refused: config.beta/);
  assert.match(byName.m7!.reason!, /allows at most 8 modules/);
  assert.equal(byName.m4!.state, 'running');
  assert.equal(h.reconciler.appliedRevision, 1, 'module failures do not refuse the desired state');
  await h.reconciler.stop();
});

test('a desired state arriving mid-apply is applied right after; older waiting ones are skipped', async () => {
  const h = harness();
  const first = h.reconciler.submit(desiredState(DEVICE, 1, [entry('ema')]));
  void h.reconciler.submit(desiredState(DEVICE, 2, [entry('zscore')]));
  void h.reconciler.submit(desiredState(DEVICE, 4, [entry('threshold')]));
  void h.reconciler.submit(desiredState(DEVICE, 3, [entry('peak')]));
  await first;
  assert.deepEqual(h.applied, [1, 4]);
  assert.deepEqual(stateOf(h.reconciler), { threshold: 'running' });
  assert.equal(h.reconciler.errors().length, 0, 'errors clear once a newer state applies');
  await h.reconciler.stop();
});

test('faults restart with backoff, then quarantine until a new revision', async () => {
  const h = harness();
  await h.reconciler.submit(desiredState(DEVICE, 1, [entry('ema')]));
  const runner = () => h.attached.get('dep_ema/ema')!.consumer;
  const batch = { sourceId: 'temperature', firstSeq: 0, timestamps: new Float64Array([1, 2]), values: new Float64Array([3, 4]) };
  await runner().process(batch);
  assert.equal(h.results.length, 1);
  assert.deepEqual(h.results[0]!.input, { source: 'temperature', firstSeq: 0, count: 2, from: 1, to: 2 });

  for (let i = 0; i < 3; i++) {
    h.sandboxes.faults.push(new SandboxFault('trap', 'unreachable'));
    await runner().process(batch);
    const ema = h.reconciler.modules()[0]!;
    assert.equal(ema.state, 'failed');
    assert.equal(ema.faults, i + 1);
    if (i < 2) {
      assert.equal(ema.reason, 'trap: unreachable');
      assert.equal(ema.quarantined, undefined, '[WF-P-T-3b] restarting is not quarantined');
      await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** i + 15));
      assert.equal(h.reconciler.modules()[0]!.state, 'running', `restarted after fault ${i + 1}`);
    }
  }
  const quarantined = h.reconciler.modules()[0]!;
  assert.match(quarantined.reason!, /quarantined after 3 faults in a row; last: trap: unreachable/);
  assert.equal(quarantined.quarantined, true, '[WF-P-T-3b] said as data');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(h.reconciler.modules()[0]!.state, 'failed', 'stays quarantined');
  assert.equal(h.sandboxes.open.size, 0);

  await h.reconciler.submit(desiredState(DEVICE, 2, [entry('ema')]));
  assert.equal(h.reconciler.modules()[0]!.state, 'running', 'a new revision gives it a fresh start');
  assert.equal(h.reconciler.modules()[0]!.quarantined, undefined, 'and clears the flag');
  await h.reconciler.stop();
});

test('granted limits are the smallest of profile, manifest and deployment', () => {
  assert.deepEqual(grantLimits(profile.moduleLimits, manifest('x').limits, entry('x', { limits: { cpuMsPerBatch: 20, maxOutputsPerBatch: 100000 } }).limits), {
    memoryPages: 16,
    cpuMsPerBatch: 20,
    maxOutputsPerBatch: 2048,
  });
});

test('a fetch that failed is retried when the same revision is delivered again; nothing else restarts', async () => {
  const failFetches = new Set(['zscore']);
  const h = harness({ failFetches });
  const state = desiredState(DEVICE, 4, [entry('ema'), entry('zscore')]);
  await h.reconciler.submit(state);
  assert.deepEqual(stateOf(h.reconciler), { ema: 'running', zscore: 'starting' }, '[WF-P-T-3c] a fetch worth retrying is not a failure');
  assert.match(h.reconciler.modules().find((m) => m.name === 'zscore')!.reason!, /subscribing to wf\/v1\/modules\/\S+ failed: Connection closed/);
  assert.equal(h.sandboxes.started.length, 1);

  failFetches.clear(); // the link is back
  await h.reconciler.submit(state);
  assert.deepEqual(stateOf(h.reconciler), { ema: 'running', zscore: 'running' });
  assert.deepEqual(h.sandboxes.started.map((o) => o.manifest.name), ['ema', 'zscore'], 'ema kept running; only zscore started');
  assert.equal(h.reconciler.appliedRevision, 4);

  await h.reconciler.submit(state);
  assert.equal(h.sandboxes.started.length, 2, 'once running, a redelivery changes nothing');
  await h.reconciler.stop();
});

test('a fetch that failed with the link up is retried on a widening timer until it succeeds, and a new revision without it disarms the timer', async () => {
  const failFetches = new Set(['zscore']);
  const h = harness({ failFetches, fetchRetry: { minMs: 40, maxMs: 160 } });
  await h.reconciler.submit(desiredState(DEVICE, 4, [entry('ema'), entry('zscore')]));
  assert.deepEqual(stateOf(h.reconciler), { ema: 'running', zscore: 'starting' });

  // No redelivery of the state: only the timer can try again.
  const tries = () => h.fetched.filter((name) => name === 'zscore').length;
  await waitUntil(() => tries() >= 4);
  assert.deepEqual(stateOf(h.reconciler), { ema: 'running', zscore: 'starting' });
  assert.equal(h.sandboxes.started.length, 1, 'ema was never restarted by the retries');

  failFetches.clear(); // the module reached the broker late
  await waitUntil(() => stateOf(h.reconciler).zscore === 'running');
  assert.deepEqual(h.sandboxes.started.map((o) => o.manifest.name), ['ema', 'zscore']);
  const settled = tries();
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(tries(), settled, 'nothing is fetched again once it runs');

  failFetches.add('zscore');
  await h.reconciler.submit(desiredState(DEVICE, 5, [entry('ema'), entry('zscore', { version: '1.0.1' })]));
  assert.equal(stateOf(h.reconciler).zscore, 'starting');
  await h.reconciler.submit(desiredState(DEVICE, 6, [entry('ema')]));
  const afterRemoval = tries();
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(tries(), afterRemoval, 'a revision without the failing module stops its retries');
  await h.reconciler.stop();
});

test('the retry window widens with each failed try and stays under its ceiling', async () => {
  const h = harness({ failFetches: new Set(['zscore']), fetchRetry: { minMs: 20, maxMs: 2_000 } });
  const at: number[] = [];
  const started = Date.now();
  await h.reconciler.submit(desiredState(DEVICE, 1, [entry('zscore')]));
  await waitUntil(() => {
    const count = h.fetched.length;
    if (at.length < count) at.push(Date.now() - started);
    return count >= 5;
  }, 2);
  await h.reconciler.stop();
  const gaps = at.slice(1).map((t, i) => t - at[i]!);
  // Windows 20, 40, 80, 160 ms, each try at least half its window after the last.
  gaps.forEach((gap, i) => assert.ok(gap >= 10 * 2 ** i - 2, `try ${i + 2} came ${gap} ms after the one before`));
});

test('[WF-P-T-3c] bytes that did not verify (signature) are failed, and fetched again on the timer until a genuine copy runs', async () => {
  const refuseFetches = new Set(['zscore']);
  const h = harness({ refuseFetches, fetchRetry: { minMs: 20, maxMs: 40 } });
  await h.reconciler.submit(desiredState(DEVICE, 2, [entry('ema'), entry('zscore')]));
  const zscore = h.reconciler.modules().find((m) => m.name === 'zscore')!;
  assert.equal(zscore.state, 'failed');
  assert.match(zscore.reason!, /^module zscore@1\.0\.0 refused: not signed by a trusted publisher key/);
  await waitUntil(() => h.fetched.filter((name) => name === 'zscore').length >= 3);
  assert.deepEqual(stateOf(h.reconciler), { ema: 'running', zscore: 'failed' }, 'failed between tries, never starting');
  // Another relay's copy, or a trust list that caught up: the next try runs it.
  refuseFetches.clear();
  await waitUntil(() => stateOf(h.reconciler).zscore === 'running');
  const tries = h.fetched.length;
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(h.fetched.length, tries, 'no more tries once it runs');
  assert.deepEqual(h.fetched.filter((name) => name === 'ema'), ['ema'], 'the running module is never fetched again');
  await h.reconciler.stop();
});

test('[WF-P-T-3c] a verdict on verified bytes (ABI) is failed and final: not fetched again, by timer or redelivery', async () => {
  const h = harness({ abiRefuses: new Set(['zscore']), fetchRetry: { minMs: 20, maxMs: 40 } });
  const state = desiredState(DEVICE, 2, [entry('ema'), entry('zscore')]);
  await h.reconciler.submit(state);
  const zscore = h.reconciler.modules().find((m) => m.name === 'zscore')!;
  assert.equal(zscore.state, 'failed');
  assert.match(zscore.reason!, /refused by the ABI check: missing export: run/);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await h.reconciler.submit(state);
  assert.deepEqual(h.fetched, ['ema', 'zscore'], 'its verdict is final for this entry');
  assert.deepEqual(stateOf(h.reconciler), { ema: 'running', zscore: 'failed' });
  await h.reconciler.stop();
});

test('[WF-P-NACK-1] a refused batch is counted on the module that produced it, by name, with the reason', async () => {
  const h = harness();
  await h.reconciler.submit(desiredState(DEVICE, 1, [entry('ema'), entry('zscore')]));
  assert.equal(h.reconciler.noteRefused('zscore', 'dep_zscore', "schema: field 'metrics': too many"), true);
  assert.equal(h.reconciler.noteRefused('zscore', 'dep_other', 'schema: x'), false, 'another deployment of it does not run here');
  const byName = Object.fromEntries(h.reconciler.modules().map((m) => [m.name, m.lost]));
  assert.deepEqual(byName, { ema: undefined, zscore: { refused: 1, lastRefusal: "schema: field 'metrics': too many" } });
  await h.reconciler.stop();
});
