/**
 * The keeper checks a list's root signature once per list (keys() runs for every desired state and
 * module; the check at start or adoption is the one it reuses), but what it answers must not change: the expiry is still judged at every call, a forged
 * list stays refused, and an adopted list is checked afresh.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { TrustKeeper } from '../../device-agent/trust-keeper.js';
import { generateSigningKey, PROTOCOL_VERSION, signTrustedKeys, trustedKeyOf, type TrustedKeys } from '../../protocol/index.js';

const root = generateSigningKey();
const fleet = generateSigningKey();
const NOW = Date.parse('2026-06-01T00:00:00Z');

function list(version: number, expiresAt: string, signer = root): TrustedKeys {
  return signTrustedKeys({ v: PROTOCOL_VERSION, version, issuedAt: '2026-01-01T00:00:00Z', expiresAt, keys: [trustedKeyOf(fleet, 'fleet', `fleet-${version}`)] }, signer);
}

test('keys() judges the expiry of the list in force at every call', () => {
  const keeper = new TrustKeeper({ root: root.publicKey, keys: list(1, '2026-07-01T00:00:00Z') }, undefined, silentLogger, NOW);
  const before = keeper.keys(NOW);
  assert.ok(before.ok);
  assert.equal(before.keys[0]!.name, 'fleet-1');
  const after = keeper.keys(Date.parse('2026-07-02T00:00:00Z'));
  assert.equal(after.ok, false);
  assert.match(!after.ok ? after.reason : '', /trusted-keys list version 1 expired at 2026-07-01T00:00:00Z/);
  // Back before the expiry (a clock corrected): usable again, nothing remembered of the refusal.
  assert.ok(keeper.keys(NOW).ok);
});

test('a list not signed by the root stays refused at every call', () => {
  const forged = list(1, '2026-07-01T00:00:00Z', generateSigningKey());
  const keeper = new TrustKeeper({ root: root.publicKey, keys: forged }, undefined, silentLogger, NOW);
  for (let i = 0; i < 3; i++) {
    const keys = keeper.keys(NOW);
    assert.equal(keys.ok, false);
    assert.match(!keys.ok ? keys.reason : '', /not signed by the root key/);
  }
});

test('a list adopted later is the one keys() checks and returns', () => {
  const keeper = new TrustKeeper({ root: root.publicKey, keys: list(1, '2026-07-01T00:00:00Z') }, undefined, silentLogger, NOW);
  assert.ok(keeper.keys(NOW).ok);
  assert.equal(keeper.offer(list(2, '2026-06-15T00:00:00Z'), NOW), 'adopted');
  const adopted = keeper.keys(NOW);
  assert.ok(adopted.ok);
  assert.equal(adopted.keys[0]!.name, 'fleet-2');
  // The new list's own expiry applies, not the first one's.
  assert.equal(keeper.keys(Date.parse('2026-06-20T00:00:00Z')).ok, false);
});

/** The list with its `signatures` read through a counter: each root-signature check reads them. */
function counted(source: TrustedKeys): { list: TrustedKeys; reads: () => number } {
  let reads = 0;
  const { signatures, ...rest } = source;
  const list = { ...rest } as TrustedKeys;
  Object.defineProperty(list, 'signatures', { enumerable: true, get: () => ((reads += 1), signatures) });
  return { list, reads: () => reads };
}

test('the root signature of each list is checked once: at start for the configured list, at adoption for a new one', () => {
  const configured = counted(list(1, '2026-07-01T00:00:00Z'));
  const keeper = new TrustKeeper({ root: root.publicKey, keys: configured.list }, undefined, silentLogger, NOW);
  const atStart = configured.reads();
  assert.ok(atStart > 0, 'checked when the keeper starts');
  for (let i = 0; i < 3; i++) assert.ok(keeper.keys(NOW).ok);
  assert.equal(configured.reads(), atStart, 'keys() reuses the check made at start');

  const next = counted(list(2, '2026-07-01T00:00:00Z'));
  assert.equal(keeper.offer(next.list, NOW), 'adopted');
  const atAdoption = next.reads();
  for (let i = 0; i < 3; i++) assert.equal(keeper.keys(NOW).ok, true);
  assert.equal(next.reads(), atAdoption, 'keys() reuses the check made at adoption');
});
