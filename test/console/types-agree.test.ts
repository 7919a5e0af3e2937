/**
 * The console is built for the browser alone and may not import server code (console/README.md), so
 * it restates the device states of a deployment the API counts. These checks read the console's
 * sources and fail when the two lists drift: a state the server adds would otherwise be counted
 * under a key the console never shows.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEVICE_DEPLOYMENT_STATES, FAILURE_STATES } from '../../fleet-api/store/deployment-records.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const source = (path: string): string => readFileSync(root + path, 'utf8');

/** The quoted strings between `start` and the first `end` after it. */
function quotedAfter(text: string, start: string, end: string): string[] {
  const from = text.indexOf(start);
  assert.ok(from >= 0, `${start} not found`);
  const body = text.slice(from + start.length, text.indexOf(end, from + start.length));
  return [...body.matchAll(/'([^']+)'/g)].map((match) => match[1]!);
}

test("console/types.ts's DeviceState is the server's list of deployment device states", () => {
  const consoleStates = quotedAfter(source('console/types.ts'), 'export type DeviceState =', ';');
  assert.deepEqual([...consoleStates].sort(), [...DEVICE_DEPLOYMENT_STATES].sort());
});

test('the Deployments page shows every state, in the server order', () => {
  const shown = quotedAfter(source('console/pages/deployments.tsx'), 'const SHOWN_STATES: DeviceState[] =', ';');
  assert.deepEqual(shown, [...DEVICE_DEPLOYMENT_STATES]);
});

test('every state that counts against the failure threshold has the bad tone', () => {
  const tones = source('console/components/bits.tsx');
  for (const state of FAILURE_STATES) {
    assert.match(tones, new RegExp(`'?${state}'?: 'bad'`), state);
  }
});
